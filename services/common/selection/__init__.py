"""Which streamed items go to a human: uncertainty measures, stream strategies, budget,
cold start, drift coupling and the audit sample. See ``registry`` for names."""

from services.common.selection.audit import AuditEstimator, AuditSampler, wilson_interval
from services.common.selection.base import Context, Decision, Outcome, Strategy
from services.common.selection.budget import SlidingBudget
from services.common.selection.coldstart import DiversityColdStart, Novelty
from services.common.selection.committee import Committee
from services.common.selection.drift import DriftMonitor
from services.common.selection.global_budget import GlobalBudget
from services.common.selection.peer import EntropySamplerStrategy
from services.common.selection.pressure import QueuePressure
from services.common.selection.quantile import QuantileUncertainty
from services.common.selection.registry import (
    DEFAULT_STRATEGY,
    build_selector,
    make_strategy,
    strategy_names,
)
from services.common.selection.selector import Selector
from services.common.selection.strategies import (
    BudgetedStrategy,
    FixedThreshold,
    FullSupervision,
    RandomizedVariableUncertainty,
    RandomSampling,
    Split,
    VariableUncertainty,
)
from services.common.selection.uncertainty import Entropy, LeastConfidence, Margin, Measure
from services.common.selection.zeroshot import HandoverClassifier, PrototypeClassifier

__all__ = [
    "DEFAULT_STRATEGY",
    "AuditEstimator",
    "AuditSampler",
    "BudgetedStrategy",
    "Committee",
    "Context",
    "Decision",
    "DiversityColdStart",
    "DriftMonitor",
    "Entropy",
    "EntropySamplerStrategy",
    "FixedThreshold",
    "FullSupervision",
    "GlobalBudget",
    "HandoverClassifier",
    "LeastConfidence",
    "Margin",
    "Measure",
    "Novelty",
    "Outcome",
    "PrototypeClassifier",
    "QuantileUncertainty",
    "QueuePressure",
    "RandomSampling",
    "RandomizedVariableUncertainty",
    "Selector",
    "SlidingBudget",
    "Split",
    "Strategy",
    "VariableUncertainty",
    "build_selector",
    "make_strategy",
    "strategy_names",
    "wilson_interval",
]
