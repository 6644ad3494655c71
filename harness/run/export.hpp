// Results in other tools' formats.
//
// gbench: Google Benchmark's JSON, one entry per repetition, so Google
// Benchmark's compare.py (Debian libbenchmark-tools) can diff two runs with
// its Mann-Whitney U test. Per (backend, workload, threads) four entries:
//   .../op        real_time = wall ns per op, cpu_time = allocator ns per op
//   .../alloc     mean ns per allocate (batch-timed)
//   .../free      mean ns per free
//   .../alloc_p99 sampled 99th percentile of one allocate, ns
// A mean at or below zero (the timer's overhead subtracted from a batch
// faster than its floor) is written as 0.001 ns and labelled, never NaN.
//
// csv: one row per cell and metric: the flat figures the summaries use.
#pragma once

#include <string>

#include "harness/run/results.hpp"

namespace alloclab::run {

std::string export_gbench(const Results& r);
std::string export_csv(const Results& r);

}  // namespace alloclab::run
