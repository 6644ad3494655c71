"""The ledger's metrics by kind: the name a claim's metric gives in
claims.json, and the function that computes it (measure.py says what they
share; time_metrics.py, memory_metrics.py, scaling_metrics.py and
count_metrics.py hold them; serve_metrics.py those that read real servers)."""

from count_metrics import m_bump_waste, m_isolation, m_ranking, m_reuse_order, m_stat_share, m_workload
from measure import Measure, Missing, _workloads, fmt  # noqa: F401 (the ledger's and the tables' names)
from memory_metrics import (m_end_retention, m_flat_footprint, m_memory_ratio, m_overhead, m_per_connection,
                            m_per_scope, m_retention, m_thread_cache, overhead_fit)  # noqa: F401
from serve_metrics import SERVE_METRICS
from scaling_metrics import m_contention, m_contention_compare, m_scaling, m_scaling_compare
from time_metrics import m_class_mean, m_ns_per_op, m_ratio, m_request_speedup, m_sweep_growth

METRICS = {
    "class_mean": m_class_mean, "ns_per_op": m_ns_per_op, "ratio": m_ratio, "request_speedup": m_request_speedup,
    "sweep_growth": m_sweep_growth,
    "overhead": m_overhead, "memory_ratio": m_memory_ratio, "retention": m_retention,
    "flat_footprint": m_flat_footprint, "end_retention": m_end_retention, "per_scope": m_per_scope,
    "per_connection": m_per_connection, "thread_cache": m_thread_cache,
    "ranking": m_ranking, "scaling": m_scaling, "scaling_compare": m_scaling_compare, "contention": m_contention,
    "contention_compare": m_contention_compare, "workload": m_workload,
    "stat_share": m_stat_share, "isolation": m_isolation, "bump_waste": m_bump_waste, "reuse_order": m_reuse_order,
    **SERVE_METRICS,
}
