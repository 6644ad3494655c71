// alloclab trace ...: the commands' files, output and exit statuses.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "harness/tests/test_util.hpp"

namespace fs = std::filesystem;
using namespace alloclab;

namespace {

const std::string kSeed = std::string(ALLOCLAB_SOURCE_DIR) + "/workloads/fuzz/seed.txt";
const std::string kBad = std::string(ALLOCLAB_SOURCE_DIR) + "/workloads/tests/corpus/bad/";

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("alloclab-trace-cli-" + std::to_string(::getpid()));
  TempDir() { fs::create_directories(path); }
  ~TempDir() { fs::remove_all(path); }
};

}  // namespace

TEST(TraceCli, BadFileIsOneLineNamingFileAndOffsetExit2) {
  auto r = test::alloclab({"trace", "check", kBad + "double_free.trace"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "alloclab: " + kBad + "double_free.trace: byte 90: free of slot 0, which is already freed\n");
  EXPECT_TRUE(r.out.empty());
  auto missing = test::alloclab({"trace", "info", "/nonexistent/x.trace"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("/nonexistent/x.trace: cannot open"), std::string::npos) << missing.err;
}

TEST(TraceCli, TextAndBinaryConvertBothWaysExactly) {
  TempDir dir;
  auto bin = (dir.path / "seed.trace").string();
  auto txt = (dir.path / "seed.txt").string();
  ASSERT_EQ(test::alloclab({"trace", "binary", kSeed, "-o", bin}).exit_code, 0);
  ASSERT_EQ(test::alloclab({"trace", "text", bin, "-o", txt}).exit_code, 0);
  EXPECT_EQ(slurp(txt), slurp(kSeed));
  auto bin2 = (dir.path / "again.trace").string();
  ASSERT_EQ(test::alloclab({"trace", "binary", txt, "-o", bin2}).exit_code, 0);
  EXPECT_EQ(slurp(bin2), slurp(bin));
  auto to_stdout = test::alloclab({"trace", "text", bin});
  EXPECT_EQ(to_stdout.out, slurp(kSeed));
}

TEST(TraceCli, InfoJsonHoldsTheFigures) {
  auto r = test::alloclab({"trace", "info", kSeed, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["threads"], 2);
  EXPECT_EQ(j["ops"], 20);
  EXPECT_EQ(j["ops_by_kind"]["alloc"], 5);
  EXPECT_EQ(j["ops_by_kind"]["release"], 2);
  EXPECT_EQ(j["cross_thread_frees"], 2);
  EXPECT_EQ(j["peak_live_bytes"], 1024 + 100 + 5000);
  EXPECT_EQ(j["scopes_by_kind"]["request"], 1);
  EXPECT_EQ(j["request_bytes"]["max"], 5140);
  EXPECT_EQ(j["metadata"]["model"], "fuzz-seed");
  auto text = test::alloclab({"trace", "info", kSeed});
  EXPECT_EQ(text.exit_code, 0);
  EXPECT_NE(text.out.find("peak live    6.0 KiB in 3 blocks"), std::string::npos) << text.out;
}

TEST(TraceCli, GenRefusesBadInputAndLeavesNothingBehind) {
  TempDir dir;
  auto unknown = test::alloclab({"trace", "gen", "no-such-model", "-o", (dir.path / "x.trace").string()});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.err.find("unknown model 'no-such-model'; models: "), std::string::npos) << unknown.err;
  auto unwritable = test::alloclab({"trace", "binary", kSeed, "-o", (dir.path / "no/such/dir/x.trace").string()});
  EXPECT_EQ(unwritable.exit_code, 2);
  EXPECT_NE(unwritable.err.find("cannot create"), std::string::npos) << unwritable.err;
  EXPECT_TRUE(fs::is_empty(dir.path));
}
