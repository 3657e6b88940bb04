"""Scorer benchmarks (``make bench``): ratios measured in the same run, never absolute goals.

Each measure compares ours with a baseline taken in the same process, interleaved and repeated,
and reports medians, because the machine is shared and absolute numbers drift.
"""
