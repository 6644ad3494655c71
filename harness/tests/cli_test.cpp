// The command line: what `list` and `smoke` print, and a one-line error with
// exit status 2 for every kind of bad input.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <fstream>
#include <nlohmann/json.hpp>

#include "allocators/general/library.hpp"
#include "harness/tests/test_util.hpp"

namespace alloclab {
namespace {

using nlohmann::json;
using test::alloclab;

using test::expect_bad_input;

// Writes `content` to `name` in dir (removed with it: nothing left behind).
std::string temp_file(const test::ScratchDir& dir, const std::string& name, const std::string& content) {
  std::string path = dir / name;
  std::ofstream(path) << content;
  return path;
}

TEST(Cli, ListJsonShowsEveryBackendAndTheLoadedVersions) {
  SKIP_IF_SANITIZED();
  auto o = alloclab({"list", "--json"});
  ASSERT_TRUE(o.ok()) << o.describe();
  json doc = json::parse(o.out);
  std::map<std::string, json> by_name;
  for (const auto& b : doc["backends"]) by_name[b["name"]] = b;
  const std::map<std::string, std::string> versions = {
      {"glibc", "2.36"}, {"jemalloc", "5.3.0"}, {"mimalloc", "2.0.9"}, {"tcmalloc", "2.10"}};
  for (const auto& [name, version] : versions) {
    ASSERT_TRUE(by_name.count(name)) << name;
    const json& b = by_name[name];
    EXPECT_EQ(b["kind"], "general");
    EXPECT_TRUE(b["library"]["available"].get<bool>()) << b.dump();
    EXPECT_EQ(b["library"]["family"], name);
    EXPECT_EQ(b["library"]["version"], version);
    EXPECT_TRUE(b["capabilities"]["thread_safe"].get<bool>());
  }
  ASSERT_TRUE(by_name.count("bump"));
  EXPECT_EQ(by_name["bump"]["kind"], "strategy");
  EXPECT_TRUE(by_name["bump"]["capabilities"]["scoped"].get<bool>());
  EXPECT_FALSE(by_name["bump"]["capabilities"]["frees_individually"].get<bool>());
  EXPECT_EQ(by_name["bump"]["composes_over"].size(), 4u);
}

TEST(Cli, ListTextNamesVersionsAndLibraries) {
  SKIP_IF_SANITIZED();
  auto o = alloclab({"list"});
  ASSERT_TRUE(o.ok()) << o.describe();
  EXPECT_NE(o.out.find("5.3.0"), std::string::npos);
  EXPECT_NE(o.out.find("libjemalloc.so.2"), std::string::npos);
  EXPECT_NE(o.out.find("bump@jemalloc"), std::string::npos);
}

TEST(Cli, SmokeRunsEveryDefaultBackendInAVerifiedWorker) {
  SKIP_IF_SANITIZED();
  auto o = alloclab({"smoke", "--json", "--rounds", "20000"});
  ASSERT_TRUE(o.ok()) << o.describe();
  json doc = json::parse(o.out);
  std::set<std::string> seen;
  for (const auto& row : doc["smoke"]) {
    EXPECT_TRUE(row["ok"].get<bool>()) << row.dump();
    seen.insert(row["backend"]);
    // Each worker reports the base allocator it verified.
    std::string backend = row["backend"];
    std::string base = backend.substr(backend.find('@') == std::string::npos ? 0 : backend.find('@') + 1);
    EXPECT_EQ(row["worker"]["identity"]["family"], base);
  }
  for (const char* name : {"glibc", "jemalloc", "mimalloc", "tcmalloc", "bump@glibc", "bump@mimalloc"}) {
    EXPECT_TRUE(seen.count(name)) << name;
  }
}

TEST(Cli, UnknownBackendNamesTheValidChoices) {
  auto o = alloclab({"smoke", "--backends", "jemallocc"});
  expect_bad_input(o, "unknown backend 'jemallocc'");
  EXPECT_NE(o.err.find("jemalloc"), std::string::npos);
  EXPECT_NE(o.err.find("preload:/path/lib.so"), std::string::npos);
}

TEST(Cli, BadSpecsAreOneLineErrors) {
  expect_bad_input(alloclab({"smoke", "--backends", "bump@nosuch"}), "unknown base 'nosuch'");
  expect_bad_input(alloclab({"smoke", "--backends", "jemalloc@glibc"}), "takes no @BASE");
  expect_bad_input(alloclab({"smoke", "--backends", "bump:first_chunk=lots"}), "is not a size");
  expect_bad_input(alloclab({"smoke", "--backends", "bump:colour=red"}), "unknown option 'colour' for bump");
  expect_bad_input(alloclab({"smoke", "--backends", "preload:"}), "needs a path");
}

TEST(Cli, MissingPreloadLibrary) {
  expect_bad_input(alloclab({"smoke", "--backends", "preload:/nonexistent/libfoo.so"}), "does not exist");
}

TEST(Cli, PreloadThatIsNotAMallocLibrary) {
  SKIP_IF_SANITIZED();
  auto o = alloclab({"smoke", "--backends", std::string("preload:") + FIXTURE_NOT_MALLOC});
  expect_bad_input(o, "is not a malloc library");
}

TEST(Cli, MalformedFlags) {
  expect_bad_input(alloclab({"smoke", "--rounds", "many"}), "--rounds");
  expect_bad_input(alloclab({"smoke", "--no-such-flag"}), "no-such-flag");
  expect_bad_input(alloclab({"frobnicate"}), "frobnicate");
  auto none = alloclab({});
  EXPECT_EQ(none.exit_code, 2);
}

TEST(Cli, HelpExplainsBackendsAndExitStatus) {
  auto o = alloclab({"--help"});
  EXPECT_TRUE(o.ok());
  EXPECT_NE(o.out.find("Exit status"), std::string::npos);
  EXPECT_NE(o.out.find("preload:/path/lib.so"), std::string::npos);
  EXPECT_NE(o.out.find("list"), std::string::npos);
}

TEST(Cli, CrashingAllocatorIsARecordedFailure) {
  SKIP_IF_SANITIZED();
  auto o = alloclab({"smoke", "--json", "--backends", std::string("preload:") + FIXTURE_CRASHING});
  EXPECT_EQ(o.exit_code, 3) << o.describe();
  json doc = json::parse(o.out);
  ASSERT_EQ(doc["smoke"].size(), 1u);
  EXPECT_FALSE(doc["smoke"][0]["ok"].get<bool>());
  EXPECT_EQ(doc["smoke"][0]["failure"], "killed by SIGSEGV");
}

TEST(Cli, HangingAllocatorTimesOutAndTheRunGoesOn) {
  SKIP_IF_SANITIZED();
  auto o = alloclab({"smoke", "--json", "--timeout", "1", "--backends",
                     std::string("preload:") + FIXTURE_HANGING + ",glibc"});
  EXPECT_EQ(o.exit_code, 3) << o.describe();
  json doc = json::parse(o.out);
  ASSERT_EQ(doc["smoke"].size(), 2u);
  EXPECT_EQ(doc["smoke"][0]["failure"], "timed out after 1 s");
  EXPECT_TRUE(doc["smoke"][1]["ok"].get<bool>()) << "the cell after a hang still runs";
}

TEST(Cli, AllocatorsFileNamesPreloadLibraries) {
  SKIP_IF_SANITIZED();
  test::ScratchDir dir;
  std::string file = temp_file(dir, "allocators.txt", "# name path\nje2 " +
                                                     std::string(library_preload_path(Library::jemalloc)) + "\n");
  auto o = alloclab({"--allocators", file, "smoke", "--json", "--rounds", "10000", "--backends", "je2,bump@je2"});
  ASSERT_TRUE(o.ok()) << o.describe();
  json doc = json::parse(o.out);
  ASSERT_EQ(doc["smoke"].size(), 2u);
  EXPECT_EQ(doc["smoke"][0]["backend"], "je2");
  EXPECT_EQ(doc["smoke"][0]["worker"]["identity"]["family"], "jemalloc");
  EXPECT_EQ(doc["smoke"][1]["backend"], "bump@je2");
  auto listed = alloclab({"--allocators", file, "list", "--json"});
  ASSERT_TRUE(listed.ok());
  EXPECT_NE(listed.out.find("\"je2\""), std::string::npos);
}

TEST(Cli, MalformedAllocatorsFile) {
  test::ScratchDir dir;
  expect_bad_input(alloclab({"--allocators", temp_file(dir, "bad1.txt", "justaname\n"), "list"}),
                   "bad1.txt:1: expected 'name path'");
  expect_bad_input(alloclab({"--allocators", temp_file(dir, "bad2.txt", "glibc /x.so\n"), "list"}),
                   "is a built-in backend name");
  expect_bad_input(alloclab({"--allocators", temp_file(dir, "bad3.txt", "a /x.so\na /y.so\n"), "list"}),
                   "bad3.txt:2: 'a' is defined twice");
  expect_bad_input(alloclab({"--allocators", "/nonexistent/allocs.txt", "list"}), "cannot read");
}

// Output that cannot be written (a full disk; /dev/full here) is one line
// and exit 2, not a silent 0 with half a file: for a command that prints a
// little and one that prints a lot.
TEST(Cli, AFailedWriteToStandardOutputIsBadInput) {
  test::ScratchDir dir;
  const std::string trace = dir / "stdout_full.trace";
  ASSERT_TRUE(alloclab({"trace", "gen", "http1-static", "--requests", "200", "-o", trace}).ok());
  const std::string err = dir / "stdout_full.err";
  const std::vector<std::string> commands = {"list", "trace text '" + trace + "'", "trace info --json '" + trace + "'"};
  for (const std::string& args : commands) {
    SCOPED_TRACE(args);
    int rc = std::system(("'" ALLOCLAB_BIN "' " + args + " > /dev/full 2> '" + err + "'").c_str());
    ASSERT_TRUE(WIFEXITED(rc));
    EXPECT_EQ(WEXITSTATUS(rc), 2);
    std::ifstream in(err);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1) << text;
    EXPECT_NE(text.find("alloclab: cannot write standard output: No space left on device"), std::string::npos) << text;
  }
}

}  // namespace
}  // namespace alloclab
