"""The built-in prompt set: 1,000 prompts written for ultrabench, so the 1K-prompt benchmark needs no download.

How it is composed
    Ten categories (portraits, animals, landscapes, architecture, interiors, food, vehicles, art styles,
    fantasy, science fiction) each get 100 prompts. Every prompt is assembled from hand-written parts
    (a subject, a setting, one to three details, lighting, a camera or style finish and, for the long
    prompts, a hand-written mood sentence) poured into one of several sentence shapes, so prompts differ in
    structure and not just in one swapped word; a draw that would nearly repeat an earlier prompt of its
    category is redrawn. Every eighth prompt of a category uses a long shape that
    runs past CLIP's 77-token window, because the benchmark should see how methods handle truncation.
    Several parts carry non-ASCII letters (Zürich, crème brûlée, 東京, ...) to exercise tokenizers.

    Ids run ``b0001`` … ``b1000`` and cycle through the categories (b0001 is a portrait, b0002 an animal,
    ...), so any prefix of the set, e.g. a 50-prompt smoke run, is still balanced across categories.

Why it is deterministic
    Part choices come from index arithmetic plus a fixed-constant linear congruential generator seeded
    per category by its position, never from ``hash()`` (salted per process) or the ``random`` module
    (whose algorithms may change between Python versions). Same code, same prompts, on every platform.

Bump ``BUILTIN_VERSION`` whenever any part, shape or the composition logic changes: scores computed on
different versions are not comparable.
"""

from __future__ import annotations

import functools
from typing import Iterator, NamedTuple

BUILTIN_NAME = "builtin"
BUILTIN_VERSION = "1"

N_PROMPTS = 1000


class _Parts(NamedTuple):
    subjects: tuple[str, ...]  # noun phrase, lower-case start ("an elderly fisherman ...")
    places: tuple[str, ...]  # follows the subject directly ("on the harbour wall", "at dawn")
    details: tuple[str, ...]  # absolute phrase that can stand after a comma
    lights: tuple[str, ...]  # noun phrase (for art styles: the palette)
    finishes: tuple[str, ...]  # camera, medium or rendering notes
    moods: tuple[str, ...]  # one full sentence, used only by the long shapes


# --------------------------------------------------------------------------------------------------
# Hand-written parts, one block per category.
# Details avoid gendered pronouns so any detail fits any subject of its category.
# --------------------------------------------------------------------------------------------------

_PORTRAITS = _Parts(
    subjects=(
        "an elderly fisherman with a weathered face",
        "a young violinist with ink-stained fingers",
        "a grandmother in a hand-embroidered headscarf",
        "a teenage skateboarder with a chipped front tooth",
        "a baker dusted with flour to the elbows",
        "a flamenco dancer in a ruffled crimson dress",
        "a beekeeper holding a frame heavy with honeycomb",
        "a retired boxer with a crooked nose and kind eyes",
        "a little girl wearing a paper crown",
        "a glassblower squinting at a glowing gather of glass",
        "a mountain guide with sun-cracked lips",
        "a jazz trumpeter mid-solo with puffed cheeks",
        "a tailor with a measuring tape draped around the neck",
        "twin sisters in matching yellow raincoats",
        "a calligrapher holding a wet brush above rice paper",
        "a nurse at the end of a long night shift",
        "a shepherd wrapped in a heavy felt cloak",
        "a street musician with a battered accordion",
        "a chess player lost in deep concentration",
        "a farmer with soil under the fingernails",
    ),
    places=(
        "on the harbour wall at dawn",
        "at a corner table in a café in Montmartre",
        "in a narrow alley in the Triana district of Sevilla",
        "beside a tall window in an old Kraków tenement",
        "at a fruit stall in a market in São Paulo",
        "in a cluttered workshop",
        "on a rooftop terrace in Zürich",
        "in front of a peeling turquoise door",
        "in a sunlit greenhouse",
        "on a tram platform in Lisboa",
        "in a small photo studio in 東京",
        "on a windswept hillside near Reykjavík",
        "at a kitchen table covered in flour",
    ),
    details=(
        "fine wrinkles at the corners of the eyes",
        "a knitted wool cap pulled low",
        "freckles scattered across the cheeks",
        "a thin silver chain glinting at the collar",
        "stray hairs lifted by the wind",
        "a faint smile just beginning",
        "eyes fixed just past the camera",
        "raindrops beading on a wool coat",
        "hands resting quietly in the lap",
        "a smudge of paint on one cheekbone",
        "a patterned scarf in faded indigo",
        "individual eyelashes and skin pores visible",
        "the window reflected in the irises",
        "a frayed collar and rolled-up sleeves",
    ),
    lights=(
        "soft overcast light",
        "warm window light from the left",
        "the low gold light of late afternoon",
        "a single bare bulb overhead",
        "cool blue-hour light",
        "dappled light through leaves",
        "Rembrandt lighting with a deep shadow side",
        "diffused midday sun",
    ),
    finishes=(
        "85mm lens, shallow depth of field",
        "shot on medium-format film, fine grain",
        "50mm lens at f/1.4, creamy bokeh",
        "black-and-white documentary style",
        "environmental portrait, 35mm lens",
        "tight close-up, razor-sharp focus on the eyes",
        "warm film colours, natural skin tones",
        "editorial photography, 8K detail",
    ),
    moods=(
        "Behind the subject the background dissolves into soft shapes of passing people and shop signs, "
        "while the foreground holds every thread of the clothing and every crease in the skin in crisp detail.",
        "The air is slightly hazy and tiny dust motes drift through the beam of light, giving the whole frame "
        "a quiet, unhurried mood, as if the moment had been waiting a long time to be noticed.",
        "A few personal objects sit within reach, a chipped enamel mug, a pencil stub and a folded letter, "
        "each rendered sharply enough to read the wear along their edges.",
        "The expression is complex, part tired and part amused, and the composition leaves generous empty "
        "space on one side so the eye rests on the face first and then wanders outward.",
        "Colour is restrained to earthy ochres, muted greens and soft greys, with one saturated accent in the "
        "clothing that pulls the gaze back toward the centre of the image.",
        "The wall behind is a patchwork of cracked plaster, old posters and a rusted hinge, sharp enough to "
        "count the layers of paint, and a nearby window faintly doubles the whole scene.",
    ),
)

# As with vehicles, each animal brings its own habitat and the places are moments, so no elephant
# ends up on a windowsill; details are written to fit fur, feather and scale alike.
_ANIMALS = _Parts(
    subjects=(
        "a red fox curled up in fresh snow in Hokkaidō",
        "an old silverback gorilla resting against a tree in a misty rainforest",
        "a barn owl with wings half open on a beam in an old stone barn",
        "a snow leopard stalking along a rocky ridge",
        "a pair of sea otters floating side by side in a kelp bed",
        "a kingfisher perched on a mossy branch above a stream",
        "a humpback whale breaching off a rocky coast",
        "a tabby cat asleep on a stack of books on a sunny windowsill",
        "a golden retriever shaking off lake water",
        "a chameleon gripping a thin twig",
        "a herd of wild horses galloping across the Patagonian steppe",
        "a grey heron standing motionless in the shallows of a lake in Småland",
        "a reindeer with frost on its antlers in a birch forest near Tromsø",
        "an octopus unfurling its arms over a coral ledge",
        "a family of meerkats on lookout at the edge of the Kalahari",
        "a peacock fanning its tail in a palace garden",
        "a tiny harvest mouse clinging to a wheat stalk",
        "an elephant calf following its mother across the Okavango delta",
        "a puffin with a beak full of fish on a grassy sea cliff in Føroyar",
        "a flock of flamingos wading in a line across a salt pan",
    ),
    places=(
        "at first light",
        "at dusk",
        "in a rare moment of stillness",
        "on a quiet morning",
        "at the end of a long day",
        "in a patch of sunlight",
        "early in spring",
        "in the last warmth of autumn",
        "in the middle of the day",
        "unaware of being watched",
        "in a calm between storms",
        "on a cold, clear day",
    ),
    details=(
        "eyes reflecting the sky",
        "a curious head tilt toward the camera",
        "the background fading into soft colour",
        "textures resolved down to the finest strand",
        "a bright catchlight in each eye",
        "a few drops of water glistening",
        "tiny particles drifting in the air",
        "soft rim light outlining the body",
        "a shallow plane of focus on the eyes",
        "the surroundings mirrored in a wet surface",
        "markings crisp and clearly patterned",
        "a second animal half-hidden behind",
        "the habitat sharply textured in the foreground",
        "every whisker or barb individually visible",
    ),
    lights=(
        "the first light of dawn",
        "golden-hour backlight",
        "soft diffused overcast light",
        "crisp winter sunlight",
        "shafts of light through the canopy",
        "the pale glow of early evening",
        "late afternoon sidelight",
        "sunlight rippling through water or leaves",
    ),
    finishes=(
        "wildlife photography, 600mm telephoto lens",
        "macro lens, extreme close-up",
        "eye-level shot, shallow depth of field",
        "wide-angle environmental shot",
        "high-speed capture, frozen motion",
        "award-winning nature photograph",
        "low-angle shot from the ground",
        "documentary photograph, natural colours",
    ),
    moods=(
        "The surroundings are rendered with the same care as the animal itself, each blade of grass, frozen "
        "crystal and fallen leaf separately visible, creating a depth that rewards close inspection.",
        "The scene is perfectly still except for the animal, which seems to have just noticed the photographer, "
        "its posture caught between curiosity and caution in a single fleeting moment.",
        "A thin mist hangs close to the ground, softening distant shapes into layered silhouettes while the "
        "subject in the foreground stays tack-sharp from nose to tail.",
        "Small signs of the wider ecosystem appear at the edges of the frame, a beetle on a stem, a feather on "
        "the ground and a distant bird crossing the sky, so the picture feels like a living habitat.",
        "The palette is natural and unforced, with subtle gradations in the fur and plumage that would be lost "
        "at lower resolution but here resolve into thousands of individual fibres.",
        "In the far background a gentle slope rises toward hills softened by haze, and the composition leaves "
        "room for the animal to look into open space, following the rule of thirds.",
    ),
)

# Named places live in the subjects here, so the "places" are vantage points that fit any landscape.
_LANDSCAPES = _Parts(
    subjects=(
        "the glacier lagoon of Jökulsárlón scattered with blue icebergs",
        "lavender fields near Valensole in Provence",
        "the jagged peaks of the Dolomites above Cortina d'Ampezzo",
        "a lone cypress on a sea cliff",
        "terraced rice paddies in the hills of Yunnan",
        "the salt flat of Salar de Uyuni mirroring the sky",
        "the rift valley of Þingvellir with its mossy lava fields",
        "a black sand beach lined with basalt columns",
        "a slot canyon with curving sandstone walls",
        "a misty pine forest among the sandstone towers of the Sächsische Schweiz",
        "a field of sunflowers rolling over low hills",
        "an alpine lake beneath the Matterhorn near Zermatt",
        "sand dunes sculpted by the wind into sharp ridges",
        "a waterfall plunging into a mossy gorge",
        "a volcanic crater lake ringed with scree",
        "a chain of small green islands in the Lofoten archipelago",
        "a frozen waterfall in a narrow ravine",
        "wheat fields under a towering storm cloud",
        "the steep fjord below Ålesund",
        "a high desert plateau dotted with junipers",
    ),
    places=(
        "seen from a high ridge",
        "viewed from the water's edge",
        "from a drone high above",
        "after a passing rain shower",
        "on a perfectly still morning",
        "at the turn of the seasons",
        "with no trace of people",
        "stretching all the way to the horizon",
        "framed by rocks in the foreground",
        "from a low vantage point",
        "as the weather clears",
        "on the first cold day of autumn",
    ),
    details=(
        "wisps of low cloud clinging to the slopes",
        "a thin line of hikers for scale",
        "mirror-like reflections in still water",
        "wildflowers in the foreground",
        "layers of receding ridgelines",
        "ripples of wind across the surface",
        "patches of lingering snow",
        "a lone tree on the skyline",
        "long shadows raking across the ground",
        "a faint rainbow after the rain",
        "a single winding path",
        "lichen-covered boulders up close",
        "birds circling far overhead",
        "fog pooling in the valleys",
    ),
    lights=(
        "sunrise alpenglow",
        "dramatic light breaking through storm clouds",
        "the soft pink light after sunset",
        "hard midday light under a deep blue sky",
        "moonlight and a sky full of stars",
        "the green ribbons of an aurora",
        "warm golden-hour light",
        "the flat silver light of an overcast morning",
    ),
    finishes=(
        "wide-angle landscape photography, f/11, sharp from front to back",
        "sweeping panoramic composition",
        "aerial drone photograph",
        "large-format film look, rich tonal range",
        "long exposure, silky water",
        "telephoto compression of distant layers",
        "fine-art landscape print, 8K",
        "hyperrealistic, gigapixel detail",
    ),
    moods=(
        "The scale is immense: far-off slopes show individual trees and rock ledges, and the foreground is so "
        "detailed that every pebble and tuft of grass can be picked out, as if standing inside the scene.",
        "The weather is changing across the frame, one side still dark under heavy cloud while the other is "
        "washed in clear light, giving the whole view a sense of motion and drama.",
        "The air is so clear that the horizon seems close, and the colours shift gently from the warm earth "
        "tones of the foreground to the cool blues of the furthest ridges.",
        "A small wooden hut sits almost hidden in the middle distance, its single lit window the only sign of "
        "people in an otherwise untouched and silent wilderness.",
        "Water runs through the composition as a leading line, drawing the eye from the bottom edge of the "
        "picture toward the brightest point of the sky.",
        "Textures dominate the scene, fractured rock, wind-combed grass, crusted snow and rippled sand side by "
        "side, each surface catching the light in its own way.",
    ),
)

_ARCHITECTURE = _Parts(
    subjects=(
        "a Gothic cathedral with twin spires",
        "a brutalist concrete library",
        "a row of pastel townhouses",
        "a glass-and-steel skyscraper",
        "a whitewashed chapel with a blue dome",
        "a timber-framed medieval house",
        "a Modernista façade with mosaic balconies",
        "a pagoda with five tiers of curved eaves",
        "an Art Deco cinema with a neon marquee",
        "a stone bridge with seven arches",
        "a lighthouse of red and white brick",
        "a mosque courtyard with a marble fountain",
        "a minimalist concrete house cantilevered over a slope",
        "a covered market hall with a cast-iron roof",
        "a Baroque palace with gilded gates",
        "a Victorian railway station with a glass canopy",
        "an abandoned factory with shattered skylights",
        "a stilt village of wooden houses over water",
        "a curving white opera house",
        "a fortified hill town of honey-coloured stone",
    ),
    places=(
        "in the old town of Český Krumlov",
        "on a hillside above the sea",
        "on a quiet square in Kraków",
        "at the end of a cobbled street",
        "in the centre of Zürich",
        "overlooking the harbour of Málaga",
        "on a canal in Amsterdam",
        "beside the Rhine in Köln",
        "in a rainy business district",
        "in the hills above 京都",
        "on the edge of a desert oasis",
        "on a misty lakeshore",
        "near the old port of Montréal",
    ),
    details=(
        "every carved stone figure visible",
        "weathered paint peeling from the shutters",
        "pigeons settling on the cornices",
        "reflections doubled in rain puddles",
        "ivy climbing the lower walls",
        "intricate ironwork balconies",
        "geometric shadows across the façade",
        "a lone cyclist passing below for scale",
        "stained glass glowing from within",
        "moss in the gaps between the roof tiles",
        "rows of identical windows receding into the distance",
        "scaffolding wrapped around one corner",
        "flags stirring above the entrance",
        "the texture of hand-laid brick",
    ),
    lights=(
        "blue hour with the windows lit",
        "bright morning sun from a clear sky",
        "soft fog diffusing everything",
        "warm sunset light on the stone",
        "night floodlighting",
        "overcast light that reveals every texture",
        "a low winter sun",
        "a stormy sky pierced by shafts of light",
    ),
    finishes=(
        "architectural photography, tilt-shift lens, corrected verticals",
        "symmetrical front elevation",
        "wide-angle street-level view",
        "aerial view from directly above",
        "photorealistic architectural visualisation",
        "24mm lens, crisp geometric lines",
        "black-and-white fine-art print",
        "long exposure with light trails in the street",
    ),
    moods=(
        "The building is shown in its full context, neighbouring roofs, chimneys and antennas stepping away "
        "into the distance, with every window frame, gutter and carved ornament resolved precisely.",
        "People are tiny at the base of the structure, going about an ordinary day, which emphasises the sheer "
        "height and weight of the architecture above them.",
        "The materials tell the story of the building's age: newer repairs in paler stone sit beside darker, "
        "worn blocks, and faint streaks of rain stain run down from every ledge.",
        "The composition is carefully balanced, with strong leading lines from the pavement and the roofline "
        "converging toward a single point just above the main entrance.",
        "Small signs of life animate the walls, a cat on a balcony, laundry drying on a line and a flower box "
        "overflowing with geraniums, without distracting from the architecture.",
        "The sky fills the upper third of the frame and echoes the colours of the building, so that stone, "
        "glass and cloud seem to belong to one carefully chosen palette.",
    ),
)

# Places are moments rather than locations so that a ryokan never ends up in a Swedish townhouse.
_INTERIORS = _Parts(
    subjects=(
        "a Scandinavian living room in an Århus flat with a sheepskin rug",
        "a cluttered antique bookshop in Kraków",
        "a ryokan guest room in 京都 with tatami mats",
        "a sunlit artist's loft",
        "a rustic farmhouse kitchen",
        "a mid-century modern lounge",
        "a grand library with rolling ladders",
        "a tiny pâtisserie with glass display cases",
        "a minimalist concrete bathroom",
        "a café in Zürich's old town with marble tables",
        "a vintage watchmaker's workshop",
        "an ornate opera foyer",
        "a cosy attic bedroom under sloping beams",
        "a riad courtyard with zellige tiles and a fountain",
        "a school classroom after the last bell",
        "an old apothecary lined with labelled jars",
        "a music room with a grand piano",
        "a small recording studio with a glowing mixing desk",
        "a monastery refectory with long oak tables",
        "a boutique hotel lobby with a terrazzo floor",
    ),
    places=(
        "in a converted warehouse",
        "on the top floor of an old townhouse",
        "at the edge of a forest",
        "on a rainy afternoon",
        "early on a winter morning",
        "just before opening time",
        "after a long dinner party",
        "overlooking a snowy courtyard",
        "with tall windows facing the sea",
        "in a quiet neighbourhood",
        "late in the evening",
        "on a hot summer day",
    ),
    details=(
        "a half-finished cup of tea on the table",
        "dust motes drifting in the light",
        "well-worn leather armchairs",
        "shelves crowded with books and ceramics",
        "a cat asleep on a cushion",
        "fresh flowers in a glass vase",
        "patterned rugs layered on wooden floorboards",
        "brass fittings polished by years of use",
        "potted ferns trailing from the shelves",
        "a fire crackling in the hearth",
        "handwritten notes pinned to a cork board",
        "rain streaking the windowpanes",
        "linen curtains stirring in a draught",
        "every grain of the wooden surfaces visible",
    ),
    lights=(
        "soft daylight through sheer curtains",
        "warm lamplight pooling on the floor",
        "candlelight and firelight",
        "a single shaft of sun across the room",
        "the glow of string lights",
        "cool north light",
        "golden late-afternoon light",
        "the blue light of dusk through the windows",
    ),
    finishes=(
        "interior design photography, wide-angle lens",
        "styled editorial magazine spread",
        "eye-level shot, natural colours",
        "one-point perspective, symmetrical framing",
        "cinematic still on 35mm film",
        "photorealistic 3D render with global illumination",
        "high dynamic range, no blown highlights",
        "soft, airy and bright",
    ),
    moods=(
        "The room feels lived-in rather than staged: a coat hangs on the back of a chair, a book lies open "
        "face-down, and small personal objects are scattered naturally across every surface.",
        "Textures are rich and varied, nubby wool, smooth glazed ceramic, raw plaster and aged brass, each "
        "rendered so clearly that you could almost feel it under your fingertips.",
        "Through a doorway at the back a second room is visible in softer focus, hinting at the rest of the "
        "building and giving the picture depth beyond the main space.",
        "The colour scheme is calm and coherent, built from warm neutrals with a few deep accents of green and "
        "rust that repeat in the cushions, the plants and the spines of the books.",
        "Everything is quiet and still, the kind of stillness that follows a busy day, with the light doing "
        "most of the work and long shadows stretching gently across the floor.",
        "Looking closely reveals tiny details: the pattern on a teacup, the title on a spine, the knots in the "
        "floorboards and faint fingerprints on a glass tabletop.",
    ),
)

_FOOD = _Parts(
    subjects=(
        "a bowl of steaming ramen with a soft-boiled egg",
        "a crème brûlée with a cracked caramel top",
        "a stack of buttermilk pancakes dripping with maple syrup",
        "a wood-fired margherita pizza",
        "a bánh mì stuffed with pickled vegetables and herbs",
        "a bowl of phở with fresh basil and lime",
        "a platter of smørrebrød with shrimp and dill",
        "a rustic sourdough loaf with a blistered crust",
        "a plate of pierogi topped with fried onions",
        "a slice of Sachertorte with whipped cream",
        "an açaí bowl topped with berries and coconut",
        "a tray of glazed cinnamon buns",
        "a paella pan full of saffron rice and mussels",
        "a stack of crêpes with lemon and sugar",
        "a spread of mezze with hummus, olives and warm flatbread",
        "sushi nigiri arranged on a slate board",
        "a chocolate soufflé rising above the rim",
        "a plate of enchiladas in dark mole with jalapeño slices",
        "a basket of fresh figs and pomegranates",
        "a kürtőskalács chimney cake rolled in cinnamon sugar",
    ),
    places=(
        "on a marble café table",
        "at a night market stall",
        "on a rustic oak board",
        "in a tiny restaurant in 東京",
        "on a picnic blanket in a meadow",
        "at a street stand in Hà Nội",
        "on a crisp linen tablecloth",
        "on the pass of a busy restaurant kitchen",
        "on a windowsill in the morning sun",
        "on a plate with a hand-painted rim",
        "in a pâtisserie window",
        "on a weathered wooden table outdoors",
    ),
    details=(
        "steam or warmth rising gently",
        "crumbs scattered across the surface",
        "a linen napkin and a vintage fork beside it",
        "condensation on a glass of water nearby",
        "a hand reaching in from the edge of the frame",
        "a cup of coffee in the background",
        "a few raw ingredients scattered around",
        "a sprig of fresh herbs on the side",
        "a small dish of flaky sea salt nearby",
        "a worn wooden spoon resting on the edge",
        "a glossy sheen catching the light",
        "a tiny chip in the rim of the plate",
        "a second plate half out of frame",
        "a folded napkin in a faded check pattern",
    ),
    lights=(
        "soft window light from behind",
        "warm restaurant lighting",
        "bright natural daylight",
        "moody low-key light on a dark background",
        "golden morning sun",
        "the glow of paper lanterns",
        "diffused studio softbox light",
        "late afternoon sidelight",
    ),
    finishes=(
        "food photography, 100mm macro lens",
        "overhead flat lay",
        "45-degree angle, shallow depth of field",
        "editorial cookbook style",
        "rustic food styling",
        "natural, unfussy food styling",
        "extreme close-up, every texture visible",
        "commercial food photography, 8K",
    ),
    moods=(
        "The table around it tells a small story: mismatched ceramics, a folded newspaper, a few scattered "
        "ingredients and a wooden spoon stained from years of use.",
        "Every texture is readable at full resolution, the crackle of a crust, the sheen of a sauce and the "
        "tiny air pockets in a crumb, so the food looks as if it was made a moment ago.",
        "The colours are warm and appetising, balanced by a few cool accents from the plates and the linen, "
        "and the background falls away into a soft, dark blur.",
        "Small imperfections make it believable: a drip down the side of a bowl, a crumb on the rim of the "
        "plate, a slightly uneven edge where it was cut by hand.",
        "Behind the dish, out of focus, a busy kitchen carries on, the blurred shapes of a cook, copper pans "
        "and rising steam adding life and context to the scene.",
        "The arrangement follows a loose diagonal from corner to corner, guiding the eye from the garnishes to "
        "the main dish and finally to a single glass catching the light.",
    ),
)

# Each vehicle brings its own setting (a ship never lands on a mountain pass); places are moments.
_VEHICLES = _Parts(
    subjects=(
        "a cherry-red vintage roadster on a coastal road",
        "a steam locomotive crossing a stone viaduct",
        "a blue tram rattling through the old town of Zürich",
        "a bullet train gliding out of a station in 東京",
        "a wooden sailing ketch heeling in a stiff breeze",
        "a container ship guided into port by two tugboats",
        "a vintage motorcycle with a sidecar parked on a cobbled lane",
        "a hot air balloon drifting over patchwork fields",
        "a vaporetto crossing the lagoon toward Venezia",
        "a rusty pickup truck on a dirt road through wheat fields",
        "a red double-decker bus rounding a corner in a rainy city",
        "a propeller seaplane taking off from a mountain lake",
        "a bicycle with a wicker basket leaning against a bakery wall",
        "an electric race car sweeping through a chicane",
        "a brightly painted tuk-tuk weaving through traffic",
        "a camper van with surfboards on the roof parked above a beach",
        "a red snowcat grooming a ski slope",
        "a fishing trawler returning to harbour trailed by gulls",
        "a yellow funicular climbing a hillside in Valparaíso",
        "a 1930s biplane banking over a grass airfield",
    ),
    places=(
        "at dawn",
        "in the rain",
        "during a summer festival",
        "on a frosty morning",
        "as a small crowd watches",
        "in the middle of a summer storm",
        "at the end of a long journey",
        "on its last run of the day",
        "just after a snowfall",
        "during the evening rush",
        "in thick coastal fog",
        "on a clear autumn afternoon",
    ),
    details=(
        "chrome trim gleaming",
        "signs and lamp posts along the way",
        "passengers visible through the windows",
        "rivets and weld seams sharply visible",
        "the background streaked with motion blur",
        "reflections sliding over polished paint",
        "steam and exhaust hanging in the air",
        "scratches and patina from years of use",
        "hand-painted lettering along the side",
        "puddles reflecting the lights",
        "people waiting and watching nearby",
        "flags and pennants snapping in the wind",
        "a dog riding along with its ears in the wind",
        "fine dust kicked up behind",
    ),
    lights=(
        "golden-hour light glinting off the metal",
        "neon reflections on wet surfaces",
        "crisp early morning light",
        "dramatic backlight through haze",
        "flat overcast light",
        "the orange glow of sodium streetlamps",
        "bright high-summer sun",
        "blue twilight with the lamps just lit",
    ),
    finishes=(
        "automotive photography, low angle, 35mm",
        "panning shot with motion blur",
        "cinematic anamorphic still",
        "retro postcard colours",
        "aerial tracking shot",
        "photorealistic, 8K, ray-traced reflections",
        "documentary photograph, saturated slide-film colours",
        "telephoto side profile",
    ),
    moods=(
        "The vehicle is caught mid-journey, with momentum carried through the whole frame, from the blurred "
        "ground beneath it to the clouds streaming across the sky behind.",
        "Every mechanical detail is visible at full resolution, bolts, hinges, worn paint at the edges of the "
        "doors, and faint reflections of the surroundings in every curved surface.",
        "The place it belongs to is shown in rich detail, signs, lamp posts, weeds in the cracks and distant "
        "buildings, so the image reads as a portrait of a journey as much as of a machine.",
        "A few people are caught in the scene, looking up or stepping aside, which gives a sense of scale and a "
        "small human story to an otherwise mechanical subject.",
        "The colour of the vehicle is the one bold accent in a muted scene, so the eye goes straight to it and "
        "then travels outward along the road, rail or wake that it leaves behind.",
        "The weather plays a part, the air thick with spray, dust or drifting snow that softens the background "
        "into layers while the vehicle itself stays crisp and richly textured.",
    ),
)

# For art styles the "place" is the medium and the "light" is the palette; finishes stay medium-neutral.
_ART_STYLES = _Parts(
    subjects=(
        "a lighthouse on a stormy headland",
        "a village market at dawn",
        "a girl reading under a plum tree",
        "a whale swimming through clouds",
        "a fox in a snowy forest",
        "a harbour crowded with fishing boats",
        "a still life of lemons and a copper jug",
        "a carousel at a summer fair",
        "a birthday party with a piñata in a sunny courtyard",
        "a violinist playing on a rooftop",
        "a mountain village in winter",
        "a noodle stall in a narrow alley in Tōkyō",
        "a garden of poppies with a white wicker chair",
        "two cats on a windowsill watching the rain",
        "a paper boat floating on a puddle",
        "a yellow tram on the hills of Lisboa",
        "a late-night jazz club",
        "a koi pond beneath a wooden bridge",
        "the rooftops of Kraków under snow",
        "an orchard at harvest time",
    ),
    places=(
        "as a ukiyo-e woodblock print",
        "as an Impressionist oil painting",
        "as a naïve art painting",
        "as a watercolour with loose washes",
        "as an Art Nouveau poster",
        "broken into Cubist facets",
        "as a Bauhaus geometric composition",
        "as a stained-glass window",
        "as a Byzantine mosaic",
        "as a charcoal drawing",
        "as a linocut print",
        "as a Pointillist painting of tiny dots",
        "as a Chinese ink wash painting",
        "as an embroidered tapestry",
        "as a layered papercut diorama",
        "as an illuminated medieval manuscript page",
        "as an Expressionist painting",
        "as a detailed pixel-art scene",
        "as a Fauvist canvas",
        "as an Art Deco travel poster",
    ),
    details=(
        "a strong diagonal composition",
        "a high horizon line",
        "small figures tucked into the corners",
        "swirling patterns in the sky",
        "a border of stylised leaves",
        "the deliberate imperfections of the hand",
        "bold silhouettes",
        "a sense of gentle motion",
        "repeating decorative motifs",
        "a generous margin of empty space",
        "a flattened, tilted perspective",
        "tiny hidden details",
        "playful distortions of scale",
        "crisp edges against soft gradients",
    ),
    lights=(
        "a palette of indigo and vermilion",
        "muted earth tones",
        "vivid complementary colours",
        "a soft pastel palette",
        "a limited palette of black, white and one red",
        "rich jewel tones",
        "sun-bleached warm colours",
        "cool blues and silvers",
    ),
    finishes=(
        "museum-quality reproduction",
        "scanned at gallery resolution",
        "framed under glass",
        "photographed flat under even light",
        "crisp archival print",
        "every mark visible at close range",
        "exhibition piece, richly detailed",
        "highly detailed masterpiece",
    ),
    moods=(
        "The composition balances calm open areas against dense passages of pattern, so the eye has room to "
        "rest before being drawn back into the most intricate corner of the work.",
        "The artist's process is visible everywhere, in corrections left on purpose, in layers that show "
        "through one another and in the slight irregularity of every repeated shape.",
        "The scene is simplified into strong shapes that read clearly from across a room, yet up close each "
        "shape breaks down into a rich surface of marks, textures and tiny variations of colour.",
        "Light is suggested rather than copied, with warm and cool colours placed side by side so that the "
        "whole surface seems to glow from within when viewed at full size.",
        "A decorative rhythm runs through the picture, repeated curves in the water, the trees and the clouds "
        "tying every part of the scene into one harmonious design.",
        "The mood is gentle and nostalgic, like a page from a much-loved book, with small hidden details for a "
        "patient viewer to discover in the corners.",
    ),
)

_FANTASY = _Parts(
    subjects=(
        "a dragon coiled around a ruined tower",
        "an elven archer in armour woven from living leaves",
        "a floating island with waterfalls spilling into the clouds",
        "a wizard's tower leaning over a misty gorge",
        "a giant tortoise carrying a village on its shell",
        "a knight kneeling before a glowing sword in a lake",
        "a mushroom forest with caps as tall as houses",
        "a griffin landing on a cliff edge",
        "a sorceress weaving threads of light between her hands",
        "a dwarven forge deep beneath a mountain",
        "a castle built into a frozen waterfall",
        "a phoenix rising from glowing embers",
        "a fairy market beneath the roots of an ancient oak",
        "a sea serpent circling a lone sailing ship",
        "a unicorn in a moonlit silver birch grove",
        "a stone golem overgrown with moss and flowers",
        "a witch's cottage standing on tall chicken legs",
        "a library where books fly like birds",
        "an ice giant striding across a tundra",
        "a hidden valley city of crystal spires",
    ),
    places=(
        "in the mountains of Ásgarðr",
        "in the elven kingdom of Ælfheim",
        "beneath the halls of Niðavellir",
        "in an enchanted forest",
        "above a sea of clouds",
        "on the edge of a bottomless chasm",
        "among the ruins of an ancient empire",
        "during a lunar eclipse",
        "on the shore of a glowing lake",
        "in a realm of eternal autumn",
        "at the edge of the known world",
        "in the frozen wastes of Jötunheimr",
        "within a storm of falling petals",
    ),
    details=(
        "runes glowing faintly on the stone",
        "fireflies and floating motes of magic",
        "banners tattered by the wind",
        "vines and roots reclaiming old masonry",
        "scales shimmering like oil on water",
        "crystals pulsing with inner light",
        "ravens circling overhead",
        "ornate filigree on every surface",
        "smoke rising from distant chimneys",
        "a tiny traveller on the path for scale",
        "lanterns hanging from twisted branches",
        "ancient carvings half-buried in moss",
        "sparks drifting upward into the dark",
        "mist flowing like a river between the trees",
    ),
    lights=(
        "ethereal moonlight",
        "the glow of two moons",
        "warm torchlight against deep shadow",
        "volumetric god rays",
        "bioluminescent blue light",
        "the fiery glow of a setting sun",
        "soft dawn light through mist",
        "lightning flaring inside the clouds",
    ),
    finishes=(
        "epic fantasy concept art",
        "matte painting on a cinematic scale",
        "highly detailed digital painting",
        "storybook illustration rich in detail",
        "photorealistic fantasy, 8K",
        "wide establishing shot",
        "dramatic low-angle view",
        "oil painting in a classical Romantic manner",
    ),
    moods=(
        "The world stretches far beyond the main subject: distant mountains carry tiny castles, rivers glint in "
        "far valleys, and flocks of strange birds trace patterns across an enormous sky.",
        "Magic is present but subtle, a shimmer at the edge of things, with motes of light drifting through "
        "the air and faint symbols flickering into view wherever shadow meets light.",
        "Age and history are written into every surface, from worn steps and cracked statues to faded murals, "
        "as if this place had stood for a thousand years before anyone arrived.",
        "The mood is quiet awe rather than battle, a moment of stillness in which even the wind seems to hold "
        "its breath before something extraordinary happens.",
        "Intricate details reward a closer look, tiny figures on distant bridges, faces hidden in tree bark "
        "and patterns of light dancing across the surface of the water.",
        "The palette moves from deep forest greens and stone greys in the foreground to luminous golds and "
        "violets in the sky, lending the whole scene a dreamlike depth.",
    ),
)

_SCIENCE_FICTION = _Parts(
    subjects=(
        "a colossal generation ship orbiting a gas giant",
        "a rain-soaked megacity street full of holographic signs",
        "an astronaut standing on a crystalline alien plain",
        "a research station on a frozen moon",
        "a retro-futurist monorail gliding between domed towers",
        "a humanoid robot tending a rooftop garden",
        "a space elevator rising from an ocean platform",
        "a derelict starship half-buried in red dunes",
        "a bioluminescent alien jungle",
        "a walking mech wading through a flooded city",
        "a lunar colony with greenhouses under glass domes",
        "a cyborg street vendor repairing delivery drones",
        "a ring-shaped space habitat with forests on its inner surface",
        "a hovercar race between towering canyon walls",
        "an underwater city beneath a pressure dome",
        "a solar sail unfurling near a blue star",
        "a vertical-farm tower rising over a future São Paulo",
        "a neon noodle bar on a street in Neo-Tōkyō",
        "a terraforming machine the size of a mountain",
        "a maglev station in a future Zürich of glass and moss",
    ),
    places=(
        "in the year 2350",
        "at the edge of explored space",
        "on a world with two suns",
        "long after the colonists left",
        "during a solar storm",
        "as a supply convoy arrives",
        "beneath a sky crowded with orbital stations",
        "on the anniversary of the first landing",
        "at shift change",
        "after a meteor shower",
        "light-years from Earth",
        "at the height of a dust storm",
    ),
    details=(
        "panels of brushed titanium and exposed cabling",
        "holograms flickering in the air",
        "drones weaving between structures",
        "condensation dripping from pipes",
        "status lights blinking along the hull",
        "tiny figures in pressure suits for scale",
        "signs in an unknown alphabet",
        "dust devils spinning in the distance",
        "a planet's rings slicing across the sky",
        "steam venting from grilles",
        "glowing interface screens",
        "a scratched visor reflecting the scene",
        "cables slung between towers",
        "a fleet of ships in the far distance",
    ),
    lights=(
        "cyan and magenta neon",
        "harsh white starlight",
        "the red glow of a dying sun",
        "cold fluorescent light",
        "the light of a nearby nebula",
        "sunrise over a curved horizon",
        "warm sodium lamps in thick fog",
        "pulsing emergency lights",
    ),
    finishes=(
        "hard science fiction concept art",
        "cinematic wide shot, anamorphic lens flare",
        "photorealistic 8K render",
        "retro-futurist illustration",
        "matte painting of immense scale",
        "large-format film still",
        "physically based render, volumetric fog",
        "isometric cutaway view",
    ),
    moods=(
        "The technology looks used and maintained rather than pristine, with scuffed paint, patched panels, "
        "stencilled warnings and handwritten labels that suggest a working world with its own history.",
        "Far in the background the sky is crowded with structures, orbital rings, distant stations and the "
        "slow arc of a moon, hinting at a civilisation that spans far beyond this single scene.",
        "Small human moments sit inside the vast machinery: someone sipping a hot drink at a railing, a child "
        "pressing a hand against a window, a mechanic asleep in a chair.",
        "The scale is overwhelming, individual windows and walkways becoming visible only on close inspection, "
        "and the horizon curving gently to reveal the shape of the world.",
        "Light and atmosphere do much of the storytelling, beams cutting through haze, reflections pooling on "
        "wet metal, and a faint glow that seems to come from everywhere at once.",
        "Every surface is covered in fine detail, rivets, vents, antennae, tiny signage and layered wear, all "
        "holding up under close inspection like a physical model built by hand.",
    ),
)

_PARTS: dict[str, _Parts] = {
    "portraits": _PORTRAITS,
    "animals": _ANIMALS,
    "landscapes": _LANDSCAPES,
    "architecture": _ARCHITECTURE,
    "interiors": _INTERIORS,
    "food": _FOOD,
    "vehicles": _VEHICLES,
    "art_styles": _ART_STYLES,
    "fantasy": _FANTASY,
    "science_fiction": _SCIENCE_FICTION,
}

CATEGORIES: tuple[str, ...] = tuple(_PARTS)

# Sentence shapes. Upper-case fields are capitalised. Several shapes put something other than the subject
# first, so prompts vary in structure and not only in vocabulary.
_SHORT_SHAPES = (
    "{S} {p}, {d}, {l}, {f}",
    "{S} {p}. {D}, {d2}. {L}, {f}.",
    "{F}: {s} {p}, {d}, {l}",
    "{S}, {p}, {d} and {d2}, {l}, {f}",
    "{S} {p} \u2014 {d}, {l}, {f}",
    "{D}: {s} {p}, {l}, {f}",
    "{L}. {S} {p}, {d}, {d2}. {F}",
)
_LONG_SHAPES = (
    "{S} {p}, {d}, {d2}, {d3}. {m} {L}, {f}, intricate detail throughout, ultra-high resolution.",
    "{S} {p}. {m} {D}, {d2} and {d3}. {L}, {f}, finely resolved at every scale.",
)
# One prompt in eight per category is long (> 77 CLIP tokens); the offset of 5 makes ids b0051-b0060,
# well inside a small smoke run, the first long prompt of each category.
_LONG_EVERY, _LONG_OFFSET = 8, 5


def _lcg(seed: int) -> Iterator[int]:
    # Numerical Recipes constants; the high bits are the well-mixed ones.
    state = seed & 0xFFFFFFFF
    while True:
        state = (1664525 * state + 1013904223) & 0xFFFFFFFF
        yield state >> 16


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _draw(parts: _Parts, j: int, rng: Iterator[int]) -> tuple:
    """Part indices for the j-th prompt of a category: (subject, place, detail, light, finish, shape, mood)."""
    # Subjects cycle so each is used equally often; the j // n offset lets the long prompts (every eighth)
    # land on different subjects instead of always the same few.
    n = len(parts.subjects)
    subject = (j + j // n) % n
    long = j % _LONG_EVERY == _LONG_OFFSET
    shape = next(rng) % len(_LONG_SHAPES if long else _SHORT_SHAPES)
    mood = next(rng) % len(parts.moods) if long else None
    return (
        subject, next(rng) % len(parts.places), next(rng) % len(parts.details), next(rng) % len(parts.lights),
        next(rng) % len(parts.finishes), (long, shape), mood,
    )


def _too_close(a: tuple, b: tuple) -> bool:
    # Keeps out near-duplicates that differ only in a word or two (e.g. same scene, other lens).
    if a[0] == b[0] and (a[1] == b[1] or a[2] == b[2]):
        return True
    return sum(x == y for x, y in zip(a, b) if x is not None) > 3


def _render(parts: _Parts, choice: tuple) -> str:
    subject_i, place_i, detail_i, light_i, finish_i, (long, shape_i), mood_i = choice
    subject, light, finish = parts.subjects[subject_i], parts.lights[light_i], parts.finishes[finish_i]
    # A stride of 5 is coprime with the 14 details per category, so the three details always differ.
    d, d2, d3 = (parts.details[(detail_i + 5 * k) % len(parts.details)] for k in range(3))
    shape = (_LONG_SHAPES if long else _SHORT_SHAPES)[shape_i]
    return shape.format(
        s=subject, S=_cap(subject), p=parts.places[place_i], d=d, D=_cap(d), d2=d2, d3=d3,
        l=light, L=_cap(light), f=finish, F=_cap(finish), m=parts.moods[mood_i] if long else "",
    )


def _category_texts(parts: _Parts, seed: int, count: int) -> list[str]:
    rng = _lcg(seed)
    chosen: list[tuple] = []
    for j in range(count):
        choice = _draw(parts, j, rng)
        while any(_too_close(choice, other) for other in chosen):  # redraw; still fully deterministic
            choice = _draw(parts, j, rng)
        chosen.append(choice)
    return [_render(parts, choice) for choice in chosen]


@functools.lru_cache(maxsize=1)
def _build() -> tuple[tuple[str, str, str], ...]:
    per_category = N_PROMPTS // len(CATEGORIES)
    texts = {
        name: _category_texts(parts, seed=1_000_003 * (c + 1), count=per_category)
        for c, (name, parts) in enumerate(_PARTS.items())
    }
    # Round-robin over categories so every prefix of the set stays balanced.
    rows = []
    for k in range(N_PROMPTS):
        name = CATEGORIES[k % len(CATEGORIES)]
        rows.append((f"b{k + 1:04d}", texts[name][k // len(CATEGORIES)], name))
    return tuple(rows)


def builtin_prompts() -> list[tuple[str, str]]:
    """The 1,000 built-in ``(prompt_id, text)`` pairs, ids ``b0001`` … ``b1000`` in order (a fresh list)."""
    return [(pid, text) for pid, text, _ in _build()]


def builtin_categories() -> dict[str, str]:
    """Map each built-in prompt id to its category, one of ``CATEGORIES`` (a fresh dict)."""
    return {pid: name for pid, _, name in _build()}
