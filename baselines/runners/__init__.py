"""Runner scripts executed by an official checkout's own Python (see `baselines.official`).

They are plain scripts, not imported by ultrabench: each imports the user's checkout at run time and
contains no upstream code. Keep them compatible with Python 3.8 and the old diffusers those
checkouts pin.
"""
