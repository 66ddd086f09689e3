"""The zero-shot protocol's names (section 4.1, Table 1): the trained variants, the seen/unseen
class ratios and the roles of the videos a split does not train on.

Imports nothing, so that params.yaml is validated, and every stage's dependencies are stated,
without the code that draws splits or scores them (splits.py, scoring.py).
"""

# Table 1's trained variants: model kind, attention, and whether the cross-entropy term is on.
# (`cos_only` keeps attention: it differs from the full model by the loss alone.) `shuffled_labels`
# is a negative control, not in the paper: the full model trained on labels permuted among the
# training videos, which must score at chance.
VARIANTS = {
    "action2vec": {"kind": "hrnn", "attention": True, "cross_entropy": True},
    "dual_loss": {"kind": "hrnn", "attention": False, "cross_entropy": True},
    "cos_only": {"kind": "hrnn", "attention": True, "cross_entropy": False},
    "stacked_lstm": {"kind": "stacked", "attention": False, "cross_entropy": True},
    "single_lstm": {"kind": "single", "attention": False, "cross_entropy": True},
    "shuffled_labels": {"kind": "hrnn", "attention": True, "cross_entropy": True,
                        "shuffle_labels": True},
}
# Zero-shot protocols -> the unseen fraction of the classes: seen/unseen percentages drawn at
# random, or None for TruZe's fixed published split (Gowda et al., GCPR 2021), whose unseen
# classes have no counterpart among the Kinetics-400 classes.
TRUZE = "truze"
RATIOS = {"50_50": 0.5, "80_20": 0.2, "90_10": 0.1, TRUZE: None}

# The roles of the videos a split does not train on (see splits.split_roles).
UNSEEN, VALIDATION, HELD_OUT = "unseen", "validation", "held_out"
