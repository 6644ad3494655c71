// A worker started for an allocator really has its mallocs answered by that
// library, and refuses to run when it does not.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "allocators/general/library.hpp"
#include "harness/tests/test_util.hpp"
#include "harness/worker_protocol.hpp"

namespace alloclab {
namespace {

using nlohmann::json;


class EachLibrary : public testing::TestWithParam<Library> {};

TEST_P(EachLibrary, WorkerIsAnsweredByThatLibrary) {
  SKIP_IF_SANITIZED();
  Library lib = GetParam();
  std::string name(library_name(lib));
  auto o = test::worker({"--spec", name, "--task", "smoke", "--rounds", "20000"},
                        std::string(library_preload_path(lib)));
  ASSERT_TRUE(o.ok()) << o.describe();
  json doc = json::parse(o.out);
  EXPECT_EQ(doc["status"], "ok");
  EXPECT_EQ(doc["identity"]["family"], name);
  EXPECT_TRUE(doc["identity"]["owns_fresh_block"].get<bool>()) << doc["identity"]["evidence"];
  // The versions Debian 12 ships.
  const char* expected = lib == Library::glibc      ? "2.36"
                         : lib == Library::jemalloc ? "5.3.0"
                         : lib == Library::mimalloc ? "2.0.9"
                                                    : "2.10";
  EXPECT_EQ(doc["identity"]["version"], expected);
  EXPECT_EQ(doc["smoke"]["failed"], 0);
  EXPECT_EQ(doc["smoke"]["corrupted"], 0);
}

TEST_P(EachLibrary, WorkerRefusesWhenAnotherLibraryAnswers) {
  SKIP_IF_SANITIZED();
  Library asked = GetParam();
  // Preload a different library from the one the spec names.
  Library other = asked == Library::jemalloc ? Library::tcmalloc : Library::jemalloc;
  auto o = test::worker({"--spec", std::string(library_name(asked)), "--task", "smoke"},
                        std::string(library_preload_path(other)));
  EXPECT_EQ(o.status, WorkerOutcome::Status::exited);
  EXPECT_EQ(o.exit_code, worker_exit::kRefused) << o.describe();
  json doc = json::parse(o.out);
  EXPECT_EQ(doc["status"], "refused");
  EXPECT_EQ(doc["identity"]["family"], library_name(other));
  EXPECT_FALSE(doc.contains("smoke")) << "a refused worker must not measure";
}

INSTANTIATE_TEST_SUITE_P(Libraries, EachLibrary, testing::ValuesIn(kLibraries),
                         [](const auto& info) { return std::string(library_name(info.param)); });

TEST(Worker, RefusesAGeneralAllocatorWhenNothingIsPreloaded) {
  SKIP_IF_SANITIZED();
  auto o = test::worker({"--spec", "mimalloc", "--task", "probe"}, "");
  EXPECT_EQ(o.exit_code, worker_exit::kRefused);
  EXPECT_NE(o.last_error_line().find("not by mimalloc"), std::string::npos) << o.last_error_line();
}

TEST(Worker, PreloadPathMustBeTheObjectAnsweringMalloc) {
  SKIP_IF_SANITIZED();
  std::string jemalloc(library_preload_path(Library::jemalloc));
  auto ok = test::worker({"--spec", "preload:" + jemalloc, "--task", "probe"}, jemalloc);
  ASSERT_TRUE(ok.ok()) << ok.describe();
  EXPECT_EQ(json::parse(ok.out)["identity"]["family"], "jemalloc");
  auto refused = test::worker({"--spec", "preload:" + jemalloc, "--task", "probe"},
                              std::string(library_preload_path(Library::tcmalloc)));
  EXPECT_EQ(refused.exit_code, worker_exit::kRefused);
}

TEST(Worker, StrategyVerifiesItsBase) {
  SKIP_IF_SANITIZED();
  auto ok = test::worker({"--spec", "bump@tcmalloc", "--task", "smoke", "--rounds", "10000"},
                         std::string(library_preload_path(Library::tcmalloc)));
  ASSERT_TRUE(ok.ok()) << ok.describe();
  json doc = json::parse(ok.out);
  EXPECT_EQ(doc["identity"]["family"], "tcmalloc");
  EXPECT_GT(doc["stats"]["reserved_bytes"].get<std::uint64_t>(), 0u);
  auto refused = test::worker({"--spec", "bump@tcmalloc", "--task", "smoke"}, "");
  EXPECT_EQ(refused.exit_code, worker_exit::kRefused);
}

TEST(Worker, RejectsBadArguments) {
  EXPECT_EQ(test::worker({"--spec", "nosuch", "--task", "probe"}, "").exit_code, worker_exit::kBadInput);
  EXPECT_EQ(test::worker({"--bogus"}, "").exit_code, worker_exit::kBadInput);
  EXPECT_EQ(test::worker({"--spec", "glibc", "--task", "dance"}, "").exit_code, worker_exit::kBadInput);
}

}  // namespace
}  // namespace alloclab
