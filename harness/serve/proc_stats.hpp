// What /proc says about a server: the processes of its process group (a
// master and its workers), their CPU time, page faults and memory.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace alloclab::serve {

// Totals over the processes of one process group at one moment. CPU time
// and faults of a process that exited before the reading are missing
// unless its parent reaped it (then they are in the parent's cutime/cstime,
// which is added: nginx and httpd reap their workers).
struct GroupStats {
  int processes = 0;
  double user_s = 0;
  double sys_s = 0;
  std::uint64_t minor_faults = 0;
  std::uint64_t major_faults = 0;
  std::uint64_t rss_kib = 0;     // sum of VmRSS (shared pages counted once per process)
  std::uint64_t vm_hwm_kib = 0;  // sum of each process's VmHWM
};

// Memory by smaps_rollup, summed over the group: proportional set size
// (shared pages divided among their sharers) and transparent hugepages.
struct GroupMemory {
  std::uint64_t pss_kib = 0;
  std::uint64_t anon_huge_kib = 0;
  std::uint64_t rss_kib = 0;
};

// The pids whose process group is `pgid`.
std::vector<pid_t> group_members(pid_t pgid);

// CPU, faults, RSS and VmHWM of the group (from /proc/PID/stat and status).
GroupStats group_stats(pid_t pgid);

// The cheaper reading the RSS sampler takes: VmRSS summed over the group,
// from /proc/PID/statm.
std::uint64_t group_rss_kib(pid_t pgid);

// smaps_rollup summed over the group.
GroupMemory group_memory(pid_t pgid);

// The machine's transparent-hugepage mode ("always", "madvise", "never",
// or "unknown"): the bracketed word of /sys/kernel/mm/transparent_hugepage/enabled.
std::string thp_mode();

}  // namespace alloclab::serve
