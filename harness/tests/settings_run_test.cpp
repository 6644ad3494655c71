// Allocator settings end to end: a spec's settings reach only its workers,
// each worker reads them back from its library and refuses when one did
// not take effect, and the results record what was asked and what was read.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "allocators/spec.hpp"
#include "harness/tests/test_util.hpp"
#include "harness/worker_protocol.hpp"

namespace alloclab {
namespace {

using nlohmann::json;
using test::ScratchDir;
using test::read_json;
namespace fs = std::filesystem;
using Args = std::vector<std::string>;


Args tiny_run(const std::string& backends, const std::string& out) {
  return {"run", "-q", "--workloads", "http-upload", "--requests", "40", "--backends", backends,
          "--threads", "1", "--reps", "1", "-o", out};
}

using test::expect_bad_input;

using test::alloclab_with_env;

TEST(SettingsRun, EachCellRecordsTheSettingsItsWorkerReadBack) {
  SKIP_IF_SANITIZED();
  ScratchDir dir;
  std::string out = dir / "r.json";
  // A comma inside the brackets does not split the list.
  auto o = test::alloclab(tiny_run("jemalloc[dirty_decay_ms=0,muzzy_decay_ms=0],mimalloc[decommit_delay=0],"
                                   "glibc[arena_max=1],tcmalloc[aggressive_decommit=1,release_rate=0],"
                                   "bump@jemalloc[narenas=2],jemalloc",
                                   out));
  ASSERT_TRUE(o.ok()) << o.describe() << o.err;
  json doc = read_json(out);
  std::vector<std::string> backends = doc["config"]["backends"];
  EXPECT_EQ(backends, (std::vector<std::string>{"jemalloc[dirty_decay_ms=0,muzzy_decay_ms=0]",
                                                "mimalloc[decommit_delay=0]", "glibc[arena_max=1]",
                                                "tcmalloc[aggressive_decommit=true,release_rate=0]",
                                                "bump@jemalloc[narenas=2]", "jemalloc"}));
  ASSERT_EQ(doc["cells"].size(), 6u);
  for (const auto& c : doc["cells"]) {
    std::string b = c["backend"];
    SCOPED_TRACE(b);
    ASSERT_EQ(c["status"], "ok") << c.dump();
    if (b == "jemalloc") {
      EXPECT_FALSE(c["malloc"].contains("settings")) << "defaults carry no settings";
      continue;
    }
    const json& s = c["malloc"]["settings"];
    ASSERT_TRUE(s.is_object()) << c["malloc"].dump();
    for (auto it = s.begin(); it != s.end(); ++it) {
      SCOPED_TRACE(it.key());
      EXPECT_TRUE(it.value()["how"].is_string());
      if (it.key() == "release_rate") {
        EXPECT_FALSE(it.value().contains("verified"));
        EXPECT_NE(it.value()["how"].get<std::string>().find("not verifiable"), std::string::npos);
      } else {
        EXPECT_EQ(it.value()["verified"], it.value()["requested"]) << it.value().dump();
      }
    }
    if (b == "glibc[arena_max=1]") {
      EXPECT_EQ(s["arena_max"]["verified"], "1");
      EXPECT_NE(s["arena_max"]["how"].get<std::string>().find("--list-tunables"), std::string::npos);
    }
    if (b == "mimalloc[decommit_delay=0]") {
      EXPECT_EQ(s["decommit_delay"]["how"], "mi_option_get(mi_option_decommit_delay)");
    }
    if (b.starts_with("jemalloc[")) {
      EXPECT_EQ(s["dirty_decay_ms"]["how"], "mallctl opt.dirty_decay_ms");
    }
    if (b == "bump@jemalloc[narenas=2]") {
      EXPECT_EQ(s["narenas"]["verified"], "2");
    }
  }
  // The file the run wrote passes its own reader's checks.
  auto e = test::alloclab({"export", out, "--format", "csv"});
  EXPECT_TRUE(e.ok()) << e.err;
  EXPECT_NE(e.out.find("\"jemalloc[dirty_decay_ms=0,muzzy_decay_ms=0]\""), std::string::npos) << "quoted in CSV";
}

// Commas separate backends, a strategy's options and a library's settings:
// each stays with its own.
TEST(SettingsRun, CommasInsideBracketsAndOptionsStayWithTheirBackend) {
  SKIP_IF_SANITIZED();
  auto o = test::alloclab({"run", "--dry-run", "--workloads", "http1-static", "--backends",
                           "bump:first_chunk=16k,retain=4@jemalloc[tcache=0,narenas=1],glibc[top_pad=0,arena_max=2],"
                           "jemalloc[thp=never],jemalloc"});
  ASSERT_TRUE(o.ok()) << o.err;
  json config = json::parse(o.out.substr(0, o.out.rfind('}') + 1));
  EXPECT_EQ(config["backends"], json({"bump:first_chunk=16k,retain=4@jemalloc[narenas=1,tcache=false]",
                                      "glibc[arena_max=2,top_pad=0]", "jemalloc[thp=never]", "jemalloc"}));
}

TEST(SettingsRun, UnknownKeysAndBadValuesAreOneLineExit2) {
  ScratchDir dir;
  std::string out = dir / "r.json";
  expect_bad_input(test::alloclab(tiny_run("jemalloc[decay=0]", out)), "dirty_decay_ms");
  expect_bad_input(test::alloclab(tiny_run("glibc[arena_max=0]", out)), "out of range");
  expect_bad_input(test::alloclab(tiny_run("mimalloc[purge_delay=0]", out)), "decommit_delay");
  expect_bad_input(test::alloclab(tiny_run("bump@tcmalloc[release_rate=x]", out)), "not a decimal number");
  expect_bad_input(test::alloclab({"smoke", "--backends", "jemalloc[thp=maybe]"}), "default|always|never");
  EXPECT_FALSE(fs::exists(out));
}

TEST(SettingsRun, AnAllocatorVariableInTheShellIsRefused) {
  ScratchDir dir;
  std::string out = dir / "r.json";
  expect_bad_input(alloclab_with_env(tiny_run("null", out), {"MALLOC_CONF=narenas:1"}), "jemalloc[key=value]");
  expect_bad_input(alloclab_with_env(tiny_run("null", out), {"MALLOC_ARENA_MAX=2"}), "glibc[key=value]");
  EXPECT_FALSE(fs::exists(out));
}

// A worker whose library did not get the setting refuses to measure, with
// what it read back (run turns such a refusal at its probe into exit 2).
TEST(SettingsRun, ASettingThatDidNotTakeEffectIsRefused) {
  SKIP_IF_SANITIZED();
  // The worker alone, without the MALLOC_CONF that run would set.
  auto w = test::worker({"--spec", "jemalloc[dirty_decay_ms=0]", "--task", "probe"},
                        parse_backend_spec("jemalloc").preload());
  EXPECT_EQ(w.exit_code, worker_exit::kRefused) << w.describe();
  json doc = json::parse(w.out);
  EXPECT_EQ(doc["status"], "refused");
  EXPECT_NE(doc["reason"].get<std::string>().find("dirty_decay_ms=0 did not take effect: mallctl opt.dirty_decay_ms "
                                                  "reads 10000"),
            std::string::npos)
      << doc.dump();
  EXPECT_EQ(doc["settings"]["dirty_decay_ms"]["verified"], "10000");
}

}  // namespace
}  // namespace alloclab
