// What the process holds: resident set size now, its peak since a reset,
// read from /proc (statm is one pread of a few bytes: ~1-2 us, taken outside
// the timed regions).
#pragma once

#include <cstdint>

namespace alloclab::replay {

class RssProbe {
 public:
  RssProbe();
  ~RssProbe();
  RssProbe(const RssProbe&) = delete;
  RssProbe& operator=(const RssProbe&) = delete;

  std::uint64_t rss_bytes() const;  // 0 if /proc is unreadable
 private:
  int fd_ = -1;
  long page_ = 4096;
};

// Resets the kernel's peak-RSS mark (VmHWM) to the current RSS, so the peak
// read later belongs to what came after (Linux: /proc/self/clear_refs "5").
// Returns false where the kernel refuses it.
bool reset_peak_rss();
// VmHWM from /proc/self/status, in bytes; 0 if unreadable.
std::uint64_t peak_rss_bytes();

// What the kernel counts for the whole process (every thread) at one
// moment: getrusage(RUSAGE_SELF).
struct OsCounters {
  std::uint64_t minor_faults = 0;
  std::uint64_t major_faults = 0;
  double user_seconds = 0;
  double system_seconds = 0;
};
OsCounters os_counters();

// AnonHugePages of /proc/self/smaps_rollup, in bytes: anonymous memory the
// kernel backs with transparent huge pages now; 0 if unreadable.
std::uint64_t anon_huge_bytes();

}  // namespace alloclab::replay
