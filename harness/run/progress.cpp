#include "harness/run/progress.hpp"

#include <unistd.h>

#include <cstdio>

namespace alloclab::run {

std::string format_duration(double s) {
  long t = static_cast<long>(s + 0.5);
  char buf[32];
  if (t >= 3600) std::snprintf(buf, sizeof buf, "%ldh%02ldm", t / 3600, t / 60 % 60);
  else if (t >= 60) std::snprintf(buf, sizeof buf, "%ldm%02lds", t / 60, t % 60);
  else std::snprintf(buf, sizeof buf, "%lds", t);
  return buf;
}

Progress::Progress(std::uint64_t total, std::uint64_t done, bool quiet)
    : total_(total), done_(done), quiet_(quiet), tty_(::isatty(STDERR_FILENO) == 1) {}

std::string Progress::eta() const {
  if (done_here_ == 0) return "?";
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  return format_duration(elapsed / static_cast<double>(done_here_) * static_cast<double>(total_ - done_));
}

void Progress::draw(const std::string& label) {
  constexpr int kWidth = 30;
  int filled = total_ ? static_cast<int>(kWidth * done_ / total_) : kWidth;
  std::string bar(static_cast<std::size_t>(filled), '#');
  bar.resize(kWidth, '.');
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  std::string line = "[" + bar + "] " + std::to_string(done_) + "/" + std::to_string(total_) + " cells  " +
                     format_duration(elapsed) + " elapsed  ETA " + eta() + "  " + label;
  if (line.size() > 110) line.resize(110);
  std::fprintf(stderr, "\r\033[K%s", line.c_str());
  std::fflush(stderr);
}

void Progress::starting(const std::string& label) {
  if (quiet_ || !tty_) return;
  draw(label);
}

void Progress::finished(const std::string& label, const std::string& outcome, double seconds) {
  ++done_;
  ++done_here_;
  if (quiet_) return;
  if (tty_) {
    if (outcome != "ok" && outcome != "unsupported") {
      std::fprintf(stderr, "\r\033[K%s: %s\n", label.c_str(), outcome.c_str());
    }
    draw(label);
    return;
  }
  std::fprintf(stderr, "[%llu/%llu] %s: %s (%.2f s, ETA %s)\n", static_cast<unsigned long long>(done_),
               static_cast<unsigned long long>(total_), label.c_str(), outcome.c_str(), seconds, eta().c_str());
}

void Progress::close() {
  if (!quiet_ && tty_) std::fprintf(stderr, "\r\033[K");
}

}  // namespace alloclab::run
