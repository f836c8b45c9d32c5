"""Constants of the CAS(ME)^2 layout and of its annotations that the demo generator imitates.

The annotation statistics were summarised once, by hand, from the paper's table
``../shared/data/casme2_annotations.csv`` (357 rows: 300 macro, 57 micro, 95 annotated
videos); the generator never reads that file at run time. Duration and rise statistics
use the 309 rows with 0 < onset < apex < offset. Durations are ``offset - onset`` in
frames at 30 fps; the rise fraction is ``(apex - onset) / (offset - onset)``.
"""
from feature_extraction.adapters.casme2 import CASME2_CODES
from feature_extraction.adapters.sheets import EXPRESSION_TYPE_TEXT
from utils.annotations import MACRO, MICRO

FRAME_WIDTH, FRAME_HEIGHT = 640, 480

# Participant number p (1-based) -> folder number SUBJECT_FOLDER_NUMBERS[p - 1] (FORMATS.md).
SUBJECT_FOLDER_NUMBERS = (15, 16, 19, 20, 21, 22, 23, 24, 25, 26, 27,
                          29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 40)

# Video code -> (folder suffix as spelled on disk, which the CAS(ME)^2 adapter knows, clip-name stem of
# sheet 2 'naming rule2', self-reported emotion written in column 8 of sheet 0).
VIDEO_CODES = {code: (CASME2_CODES[code], clip_stem, emotion) for code, (clip_stem, emotion) in {
    "0101": ("disgust1", "disgust"),
    "0102": ("disgust2", "disgust"),
    "0401": ("anger1", "anger"),
    "0402": ("anger2", "anger"),
    "0502": ("happy1", "happy"),
    "0503": ("happy2", "happy"),
    "0505": ("happy3", "happy"),
    "0507": ("happy4", "happy"),
    "0508": ("happy5", "happy"),
}.items()}

# type_idx -> the sheet's type text, as the adapter reads it.
TYPE_SHEET_TEXT = {type_idx: text for text, type_idx in EXPRESSION_TYPE_TEXT.items()}

# Deciles (0 %, 10 %, ..., 100 %) of offset - onset, in frames.
DURATION_DECILES = {
    MACRO: (16.0, 19.0, 21.0, 25.0, 29.4, 35.0, 41.0, 47.7, 54.8, 64.0, 117.0),
    MICRO: (8.0, 10.0, 11.2, 12.0, 12.0, 13.0, 13.0, 14.0, 14.0, 15.0, 16.0),
}
# Deciles of (apex - onset) / (offset - onset).
RISE_FRACTION_DECILES = {
    MACRO: (0.08, 0.22, 0.26, 0.29, 0.33, 0.37, 0.40, 0.44, 0.48, 0.54, 0.85),
    MICRO: (0.21, 0.30, 0.36, 0.38, 0.40, 0.43, 0.46, 0.50, 0.53, 0.59, 0.69),
}

# AU combinations (AUs sorted numerically) and how often the table has them, restricted to
# combinations made only of AUs the generator models (dataset.mesynth.au.AU_MOVES): 275 of
# the 300 macro rows and 47 of the 57 micro rows. Left out: AU43 (eyes closed, which would
# look exactly like the unlabelled blinks) and rare AUs (21, 23, 28, 30, 34, 42, 45, 62, ...).
AU_COMBINATION_COUNTS = {
    MACRO: {
        "4": 67, "12": 56, "6+12": 26, "14": 21, "1+2": 10, "4+7": 8, "24": 6, "6+12+14": 5,
        "7": 5, "6+12+15": 4, "12+24": 4, "4+7+9": 4, "12+14": 3, "2": 3, "24+25": 3,
        "12+14+24": 3, "38": 2, "4+14": 2, "4+7+12": 2, "4+5": 2, "25": 2, "4+9": 2,
        "4+10+14": 1, "4+24": 1, "4+14+17": 1, "4+7+17": 1, "14+15": 1, "4+6+7": 1,
        "4+5+9": 1, "6+12+17": 1, "4+7+9+10+25": 1, "4+5+7": 1, "4+5+7+9": 1,
        "4+5+7+12": 1, "12+25": 1, "18": 1, "5+38": 1, "6+12+15+17": 1, "20": 1, "2+14": 1,
        "1+2+24": 1, "24+39": 1, "14+24": 1, "4+7+9+14": 1, "1+2+5+18": 1, "4+6+12": 1,
        "4+7+12+14": 1, "4+12+18": 1, "12+18": 1, "6+12+25": 1, "4+6+12+14": 1, "14+17": 1,
        "38+39": 1, "12+14+17+38": 1, "12+18+24": 1, "6+12+24": 1, "12+24+38": 1,
    },
    MICRO: {
        "4": 12, "1+2": 8, "12": 4, "2": 3, "4+5": 3, "4+7": 2, "4+14": 2, "39": 2, "10": 1,
        "6+12+14": 1, "14": 1, "4+5+7+9": 1, "5+12": 1, "7": 1, "20": 1, "18": 1, "24": 1,
        "1+2+6+12": 1, "12+38": 1,
    },
}

# The table's share of micro-expressions among all rows: 57 / 357.
CASME2_MICRO_SHARE = 57 / 357
