// Progress of a run on stderr: a bar redrawn in place on a terminal (cells
// done of total, elapsed, ETA, the cell running), plain lines otherwise.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace alloclab::run {

class Progress {
 public:
  // `done` cells were finished before this process started (--resume).
  Progress(std::uint64_t total, std::uint64_t done, bool quiet);
  // Before a cell runs (the bar names it).
  void starting(const std::string& label);
  // After it: its one-word outcome and seconds.
  void finished(const std::string& label, const std::string& outcome, double seconds);
  // Clears the bar before other output.
  void close();

 private:
  void draw(const std::string& label);
  std::string eta() const;

  std::uint64_t total_, done_, done_here_ = 0;
  bool quiet_, tty_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

std::string format_duration(double seconds);

}  // namespace alloclab::run
