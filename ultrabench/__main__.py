from ultrabench.cli import main

main()
