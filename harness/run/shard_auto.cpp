#include "harness/run/shard_auto.hpp"

#include <cstdlib>
#include <optional>
#include <string_view>
#include <vector>

namespace alloclab::run {

namespace {

// Decimal digits only, at most UINT32_MAX: no sign, no spaces, no hex.
std::optional<std::uint32_t> whole(std::string_view s) {
  if (s.empty() || s.size() > 10) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (v > UINT32_MAX) return std::nullopt;
  return static_cast<std::uint32_t>(v);
}

// A value as an error message shows it: one line, at most 40 characters.
std::string shown(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 40)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  if (s.size() > 40) out += "...";
  return out;
}

struct Var {
  const char* name;
  const char* value;  // nullptr when unset or empty
  explicit operator bool() const { return value != nullptr; }
  std::string text() const { return std::string(name) + "=" + shown(value); }
};

class Resolver {
 public:
  Resolver(std::uint32_t given, const EnvLookup& env) : given_(given), env_(env) {}

  Var var(const char* name) const {
    const char* v = env_ ? env_(name) : std::getenv(name);
    return {name, v && *v ? v : nullptr};
  }

  [[noreturn]] void fail(const std::string& why) const {
    std::string prefix = given_ ? "--shard auto/" + std::to_string(given_) : std::string("--shard auto");
    throw ShardError(prefix + ": " + why);
  }

  std::uint32_t number(const Var& v) const {
    auto n = whole(v.value);
    if (!n) fail(std::string(v.name) + "='" + shown(v.value) + "' is not a whole number");
    return *n;
  }

  ShardSlice slurm(const Var& id) const {
    std::uint32_t task = number(id);
    std::uint32_t n = given_;
    if (Var count = var("SLURM_ARRAY_TASK_COUNT")) {
      std::uint32_t c = number(count);
      if (c == 0) fail(count.text() + " is not a task count");
      if (given_ && c != given_)
        fail(count.text() + " disagrees with the count " + std::to_string(given_) + " given");
      n = c;
    } else if (!n) {
      fail("SLURM_ARRAY_TASK_COUNT is not set (" + id.text() + "): give --shard auto/N");
    }
    Var min_var = var("SLURM_ARRAY_TASK_MIN");
    if (!min_var)
      fail("SLURM_ARRAY_TASK_MIN is not set, so " + id.text() + " has no place among the slices: give --shard K/N");
    std::uint64_t min = number(min_var), step = 1;
    if (Var s = var("SLURM_ARRAY_TASK_STEP")) {
      step = number(s);
      if (step == 0) fail(s.text() + " is not a step");
    }
    // The array's ids are min, min + step, ... min + (n - 1) * step.
    std::uint64_t last = min + (n - 1) * step;
    std::string shape = std::to_string(n) + " tasks from SLURM_ARRAY_TASK_MIN=" + std::to_string(min) + " by step " +
                        std::to_string(step);
    if (Var max = var("SLURM_ARRAY_TASK_MAX"); max && number(max) != last)
      fail(max.text() + " is not the last id of " + shape + " (that is " + std::to_string(last) +
           "): give evenly spaced ids, --array=A-B or A-B:S");
    if (task < min || task > last || (task - min) % step != 0)
      fail(id.text() + " is out of range: " + shape + " are " + std::to_string(min) + ".." + std::to_string(last) +
           (step > 1 ? " by " + std::to_string(step) : ""));
    return {static_cast<std::uint32_t>((task - min) / step + 1), n, "Slurm " + id.text()};
  }

  ShardSlice kubernetes(const Var& index) const {
    std::uint32_t i = number(index);
    if (!given_) fail(index.text() + " gives no count: give --shard auto/N, N the Job's completions");
    if (i >= given_)
      fail(index.text() + " is out of range: 0.." + std::to_string(given_ - 1) + " for " +
           std::to_string(given_) + " slices");
    return {i + 1, given_, "Kubernetes " + index.text()};
  }

  ShardSlice parallel(const Var& seq) const {
    std::uint32_t s = number(seq);
    if (!given_) fail(seq.text() + " gives no count: give --shard auto/N, N the number of jobs");
    if (s == 0 || s > given_) fail(seq.text() + " is out of range: 1.." + std::to_string(given_));
    return {s, given_, "GNU parallel " + seq.text()};
  }

 private:
  std::uint32_t given_;
  const EnvLookup& env_;
};

}  // namespace

ShardSlice resolve_shard_auto(std::uint32_t given_count, const EnvLookup& env) {
  Resolver r(given_count, env);
  Var slurm = r.var("SLURM_ARRAY_TASK_ID"), k8s = r.var("JOB_COMPLETION_INDEX"), seq = r.var("PARALLEL_SEQ");
  std::vector<Var> set;
  for (const Var& v : {slurm, k8s, seq})
    if (v) set.push_back(v);
  if (set.empty())
    r.fail("none of SLURM_ARRAY_TASK_ID (Slurm), JOB_COMPLETION_INDEX (Kubernetes) or PARALLEL_SEQ (GNU parallel) "
           "is set: give --shard K/N");
  if (set.size() > 1) {
    std::string names = set[0].text();
    for (std::size_t i = 1; i < set.size(); ++i) names += (i + 1 == set.size() ? " and " : ", ") + set[i].text();
    r.fail(names + (set.size() == 2 ? " are both" : " are all") + " set: which engine started this run? Unset the others or give --shard K/N");
  }
  if (slurm) return r.slurm(slurm);
  if (k8s) return r.kubernetes(k8s);
  return r.parallel(seq);
}

ShardSlice parse_shard(const std::string& text, const EnvLookup& env) {
  auto bad = [&] {
    return ShardError("--shard: '" + shown(text) + "' is not K/N with 1 <= K <= N, auto or auto/N");
  };
  std::string_view t = text;
  if (t == "auto") return resolve_shard_auto(0, env);
  std::size_t slash = t.find('/');
  if (slash == std::string_view::npos) throw bad();
  auto n = whole(t.substr(slash + 1));
  if (!n || *n == 0) throw bad();
  if (t.substr(0, slash) == "auto") return resolve_shard_auto(*n, env);
  auto k = whole(t.substr(0, slash));
  if (!k || *k == 0 || *k > *n) throw bad();
  return {*k, *n, ""};
}

}  // namespace alloclab::run
