"""The maths of the paper: the DPP kernel, log det, marginal gains (`dpp.py`), and the rewards (`rewards.py`)."""
