"""Helpers shared by the llm-labs notebooks: one module per concern.

profiles (tiny/full, device, dtype) · paths · data · prompts · generation · metrics ·
training · models · toxicity · ppo · results · plots · stats · tinyworld (the offline world)
"""

__version__ = "0.1.0"
