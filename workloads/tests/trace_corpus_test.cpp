// Every malformed file in corpus/bad is rejected with the error that names
// its byte offset and problem (corpus/expected.txt), never a crash. Files a
// fuzzer found (corpus/fuzz) must be read without crashing, valid or not.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "workloads/trace_binary.hpp"
#include "workloads/trace_file.hpp"
#include "workloads/trace_info.hpp"
#include "workloads/trace_text.hpp"

namespace fs = std::filesystem;
using namespace alloclab::trace;

namespace {

std::map<std::string, std::string> expected_errors() {
  std::map<std::string, std::string> out;
  std::ifstream in(std::string(WORKLOADS_TEST_DIR) + "/corpus/expected.txt");
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    auto tab = line.find('\t');
    out[line.substr(0, tab)] = line.substr(tab + 1);
  }
  return out;
}

}  // namespace

TEST(TraceCorpus, EveryBadFileGivesItsOffsetAndProblem) {
  auto expected = expected_errors();
  ASSERT_GE(expected.size(), 40u);
  std::size_t seen = 0;
  for (const auto& entry : fs::directory_iterator(std::string(WORKLOADS_TEST_DIR) + "/corpus/bad")) {
    std::string name = entry.path().stem().string();
    ASSERT_TRUE(expected.count(name)) << name << " has no line in expected.txt";
    ++seen;
    try {
      read_trace(entry.path().string());
      ADD_FAILURE() << name << " was accepted";
    } catch (const TraceError& e) {
      EXPECT_EQ(e.where().substr(0, entry.path().string().size()), entry.path().string());
      std::string message = e.what();
      std::string want = entry.path().string() + ": " + expected[name];
      EXPECT_EQ(message.substr(0, want.size()), want) << name;
    }
  }
  EXPECT_EQ(seen, expected.size());
}

TEST(TraceCorpus, FuzzFindingsDoNotCrash) {
  fs::path dir = std::string(WORKLOADS_TEST_DIR) + "/corpus/fuzz";
  if (!fs::exists(dir)) GTEST_SKIP() << "no fuzz findings committed";
  for (const auto& entry : fs::directory_iterator(dir)) {
    try {
      Trace t = read_trace(entry.path().string());
      analyze(t);
      EXPECT_EQ(from_text(to_text(t)), t);
    } catch (const TraceError&) {
    }
  }
}
