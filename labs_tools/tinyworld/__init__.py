"""The tiny world: generated data and small models trained on it (the ``tiny`` profile).

Everything under ``data/tiny/`` is rebuilt by ``python -m labs_tools.tinyworld.build``
from fixed seeds, on a CPU, in a few minutes. The models are small enough to run the
labs without a GPU or the Hugging Face Hub, and are trained so that each lab's lesson
shows in real measurements.
"""

SEED = 1234  # the seed every split and every model of the tiny world derives from
