// Hostile input: every command that reads a file gets every malformed file we
// know of (the results corpus in corpus/results/bad, the trace corpus in
// workloads/tests/corpus/bad, malformed allocators files) and must answer with
// exit status 2, one line on stderr, and nothing written. Outputs that are
// not plain files (links, devices, FIFOs), leftovers of killed writers and
// two runs on one output are here too.
#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>

#include "harness/run/results.hpp"
#include "harness/tests/test_util.hpp"

namespace alloclab {
namespace {

namespace fs = std::filesystem;
using test::alloclab;
using test::ScratchDir;

const std::string kResultsCorpus = std::string(ALLOCLAB_SOURCE_DIR) + "/harness/tests/corpus/results";
const std::string kTraceCorpus = std::string(ALLOCLAB_SOURCE_DIR) + "/workloads/tests/corpus/bad";
const std::string kBase = kResultsCorpus + "/base.json";

// The flags base.json was run with: --resume on a copy of a corpus file
// reaches the reading of that file.
const std::vector<std::string> kBaseRun = {"run",       "--backends", "null,glibc", "--workloads", "http1-static",
                                           "--threads", "1",          "--reps",     "2",           "--requests",
                                           "10"};

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

std::vector<std::string> files_in(const std::string& dir, const std::string& ext) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ext) out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

std::map<std::string, std::string> expected_errors() {
  std::map<std::string, std::string> out;
  std::ifstream in(kResultsCorpus + "/expected.txt");
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    auto tab = line.find('\t');
    out[line.substr(0, tab)] = line.substr(tab + 1);
  }
  return out;
}

// Exit 2, exactly one line on stderr that starts "alloclab", nothing on stdout.
::testing::AssertionResult bad_input(const WorkerOutcome& o) {
  if (o.status != WorkerOutcome::Status::exited || o.exit_code != 2)
    return ::testing::AssertionFailure() << o.describe() << "\n" << o.err;
  if (std::count(o.err.begin(), o.err.end(), '\n') != 1 || o.err.back() != '\n' || o.err.rfind("alloclab", 0) != 0)
    return ::testing::AssertionFailure() << "not one line: " << o.err;
  if (o.err.find('\x1b') != std::string::npos) return ::testing::AssertionFailure() << "raw escape code: " << o.err;
  if (!o.out.empty()) return ::testing::AssertionFailure() << "wrote to stdout: " << o.out.substr(0, 200);
  return ::testing::AssertionSuccess();
}

std::vector<std::string> every_corpus_file() {
  std::vector<std::string> all = files_in(kResultsCorpus + "/bad", ".json");
  for (const auto& t : files_in(kTraceCorpus, ".trace")) all.push_back(t);
  return all;
}

// Runs `command(file, out)` for every corpus file: each must be bad input and
// leave the scratch folder as it found it.
void each_corpus_file_is_bad_input(
    const std::function<std::vector<std::string>(const std::string& file, const std::string& out)>& command) {
  std::vector<std::string> files = every_corpus_file();
  ASSERT_GE(files.size(), 100u);
  for (const auto& file : files) {
    ScratchDir dir("alloclab-hostile");
    auto o = alloclab(command(file, dir / "out"));
    EXPECT_TRUE(bad_input(o)) << fs::path(file).filename();
    EXPECT_TRUE(fs::is_empty(dir.path())) << fs::path(file).filename() << " left " << fs::directory_iterator(dir.path())->path();
  }
}

TEST(ResultsCorpus, EveryBadFileNamesTheJsonPathOfItsProblem) {
  auto expected = expected_errors();
  ASSERT_GE(expected.size(), 60u);
  std::size_t seen = 0;
  for (const auto& file : files_in(kResultsCorpus + "/bad", ".json")) {
    std::string name = fs::path(file).stem();
    ASSERT_TRUE(expected.count(name)) << name << " is not in expected.txt";
    try {
      run::Results::read(file);
      ADD_FAILURE() << name << " was read as a valid results file";
    } catch (const run::ResultsError& e) {
      EXPECT_EQ(std::string(e.what()).rfind(file + ": " + expected[name], 0), 0u)
          << name << ": " << e.what() << "\n  expected: " << expected[name];
    }
    ++seen;
  }
  EXPECT_EQ(seen, expected.size());
}

// Inputs the fuzzer (scripts/fuzz.sh results) found: read without a crash or
// an exception other than ResultsError, valid or not.
TEST(ResultsCorpus, FuzzFindingsAreReadOrRefused) {
  std::string dir = kResultsCorpus + "/fuzz";
  if (!fs::exists(dir)) GTEST_SKIP() << "no fuzz findings committed";
  for (const auto& e : fs::directory_iterator(dir)) {
    try {
      run::Results::read(e.path());
    } catch (const run::ResultsError&) {
    }
  }
}

TEST(ResultsCorpus, TheBaseFileIsValidForEveryCommand) {
  ScratchDir dir("alloclab-hostile");
  EXPECT_TRUE(alloclab({"export", kBase, "--format", "csv"}).ok());
  EXPECT_TRUE(alloclab({"merge", kBase, "-o", dir / "m.json"}).ok());
  EXPECT_TRUE(alloclab({"compare", kBase, kBase}).ok());
  EXPECT_EQ(run::Results::read(kBase).cells.size(), 2u);
}

TEST(HostileInput, ExportGivesExitTwoOnEveryCorpusFile) {
  each_corpus_file_is_bad_input([](auto& f, auto&) { return std::vector<std::string>{"export", f}; });
  each_corpus_file_is_bad_input([](auto& f, auto& out) {
    return std::vector<std::string>{"export", f, "--format", "csv", "-o", out};
  });
}

TEST(HostileInput, MergeGivesExitTwoOnEveryCorpusFile) {
  each_corpus_file_is_bad_input([](auto& f, auto& out) { return std::vector<std::string>{"merge", kBase, f, "-o", out}; });
}

TEST(HostileInput, CompareGivesExitTwoNotOneOnEveryCorpusFile) {
  each_corpus_file_is_bad_input([](auto& f, auto&) { return std::vector<std::string>{"compare", kBase, f}; });
  each_corpus_file_is_bad_input([](auto& f, auto&) { return std::vector<std::string>{"compare", f, kBase, "--json"}; });
}

TEST(HostileInput, ReportGivesExitTwoOnEveryCorpusFile) {
  each_corpus_file_is_bad_input([](auto& f, auto& out) { return std::vector<std::string>{"report", f, "-o", out}; });
}

TEST(HostileInput, ResumeGivesExitTwoAndLeavesTheFileAsItWas) {
  for (const auto& file : every_corpus_file()) {
    ScratchDir dir("alloclab-hostile");
    std::string copy = dir / "r.json";
    fs::copy_file(file, copy);
    std::vector<std::string> args = kBaseRun;
    for (const char* a : {"--resume", "-q", "-o"}) args.push_back(a);
    args.push_back(copy);
    auto o = alloclab(args);
    EXPECT_TRUE(bad_input(o)) << fs::path(file).filename();
    EXPECT_EQ(slurp(copy), slurp(file)) << fs::path(file).filename() << " was changed";
    std::size_t n = std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator());
    EXPECT_EQ(n, 1u) << fs::path(file).filename() << ": files left beside it";
  }
}

TEST(HostileInput, TraceCommandsGiveExitTwoOnEveryCorpusFile) {
  each_corpus_file_is_bad_input([](auto& f, auto&) { return std::vector<std::string>{"trace", "info", f}; });
  each_corpus_file_is_bad_input([](auto& f, auto&) { return std::vector<std::string>{"trace", "text", f}; });
  each_corpus_file_is_bad_input([](auto& f, auto& out) { return std::vector<std::string>{"trace", "binary", f, "-o", out}; });
  each_corpus_file_is_bad_input([](auto& f, auto& out) { return std::vector<std::string>{"trace", "scopes", f, "-o", out}; });
  each_corpus_file_is_bad_input([](auto& f, auto& out) {
    return std::vector<std::string>{"run", "--trace", f, "--backends", "null", "-q", "-o", out};
  });
}

TEST(HostileInput, ResultsReadersRefuseWhatIsNotARegularFile) {
  ScratchDir dir("alloclab-hostile");
  for (const std::string& path : {std::string("/dev/zero"), dir.path()}) {
    auto o = alloclab({"export", path}, std::chrono::seconds(20));
    EXPECT_TRUE(bad_input(o)) << path;
    EXPECT_NE(o.err.find("not a regular file"), std::string::npos) << o.err;
  }
  ASSERT_EQ(::mkfifo((dir / "fifo").c_str(), 0600), 0);
  auto o = alloclab({"compare", kBase, dir / "fifo"}, std::chrono::seconds(20));  // would block in open or read
  EXPECT_TRUE(bad_input(o));
}

// --- allocators files ---------------------------------------------------------

TEST(HostileInput, MalformedAllocatorsFilesAreExitTwoForEveryCommand) {
  ScratchDir dir("alloclab-hostile");
  auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir / name) << text;
    return dir / name;
  };
  fs::create_directory(dir / "folder");
  const std::vector<std::pair<std::string, std::string>> files = {
      {dir / "folder", "not a regular file"},
      {"/dev/zero", "not a regular file"},
      {write("null.txt", "null /usr/lib/x86_64-linux-gnu/libjemalloc.so.2\n"), "'null' is a built-in backend name"},
      {write("preload.txt", "preload /x.so\n"), "'preload' is a built-in backend name"},
      {write("escape.txt", "a\x1b[31mred /x.so\n"), "a control character"},
      {write("name.txt", "a$b /x.so\n"), "may hold only letters"},
      {write("three.txt", "a /x.so extra\n"), "expected 'name path'"},
      {write("twice.txt", "a /x.so\na /y.so\n"), "defined twice"},
  };
  for (const auto& [file, message] : files) {
    for (std::vector<std::string> cmd : {std::vector<std::string>{"list"},
                                         std::vector<std::string>{"export", kBase},
                                         std::vector<std::string>{"run", "--backends", "null", "--workloads",
                                                                  "http1-static", "-q", "-o", dir / "r.json"}}) {
      cmd.insert(cmd.begin(), {"--allocators", file});
      auto o = alloclab(cmd, std::chrono::seconds(20));
      EXPECT_TRUE(bad_input(o)) << file << " " << cmd[2];
      EXPECT_NE(o.err.find(message), std::string::npos) << o.err;
    }
  }
  EXPECT_FALSE(fs::exists(dir / "r.json"));
}

// --- outputs that are not plain files ----------------------------------------------

TEST(Outputs, ASymlinkIsWrittenThroughToItsTarget) {
  ScratchDir dir("alloclab-hostile");
  std::ofstream(dir / "real.csv") << "old\n";
  fs::create_symlink("real.csv", dir / "link.csv");
  ASSERT_TRUE(alloclab({"export", kBase, "--format", "csv", "-o", dir / "link.csv"}).ok());
  EXPECT_TRUE(fs::is_symlink(dir / "link.csv"));
  EXPECT_EQ(slurp(dir / "real.csv").rfind("cell,backend", 0), 0u) << "the link's target was not written";
  // A dangling link: its target is created.
  fs::create_symlink("made.json", dir / "dangling.json");
  ASSERT_TRUE(alloclab({"merge", kBase, "-o", dir / "dangling.json"}).ok());
  EXPECT_TRUE(fs::is_symlink(dir / "dangling.json"));
  EXPECT_TRUE(fs::is_regular_file(dir / "made.json"));
}

TEST(Outputs, ADeviceOrFifoIsWrittenDirectlyNotReplaced) {
  ScratchDir dir("alloclab-hostile");
  auto o = alloclab({"export", kBase, "-o", "/dev/null"});
  EXPECT_TRUE(o.ok()) << o.err;
  struct stat st {};
  ASSERT_EQ(::stat("/dev/null", &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode)) << "/dev/null was replaced";
  EXPECT_TRUE(bad_input(alloclab({"export", kBase, "-o", "/dev/full"})));

  ASSERT_EQ(::mkfifo((dir / "fifo").c_str(), 0600), 0);
  WorkerRequest reader;
  reader.argv = {"/bin/sh", "-c", "cat '" + dir / "fifo" + "' | wc -c"};
  reader.timeout = std::chrono::seconds(30);
  std::string read_bytes;
  std::thread t([&] { read_bytes = run_worker(reader).out; });
  auto w = alloclab({"export", kBase, "--format", "csv", "-o", dir / "fifo"}, std::chrono::seconds(20));
  t.join();
  EXPECT_TRUE(w.ok()) << w.err;
  EXPECT_GT(std::stoul(read_bytes), 1000u);
  EXPECT_TRUE(fs::is_fifo(dir / "fifo"));

  fs::create_directory(dir / "folder");
  o = alloclab({"export", kBase, "-o", dir / "folder"});
  EXPECT_TRUE(bad_input(o));
  EXPECT_NE(o.err.find("is a directory"), std::string::npos) << o.err;
}

TEST(Outputs, TemporariesOfKilledWritersAreRemovedAndALiveOnesKept) {
  ScratchDir dir("alloclab-hostile");
  // A pid that cannot be running: above the kernel's pid_max.
  std::string dead = dir / "m.json.tmp.99999999.abcdef", live = dir / "m.json.tmp." + std::to_string(::getpid()) + ".abcdef";
  std::ofstream(dead) << "half";
  std::ofstream(live) << "half";
  ASSERT_TRUE(alloclab({"merge", kBase, "-o", dir / "m.json"}).ok());
  EXPECT_FALSE(fs::exists(dead));
  EXPECT_TRUE(fs::exists(live));
}

TEST(Outputs, ASecondRunOnAnOutputInUseIsExitTwoNamingTheHolder) {
  ScratchDir dir("alloclab-hostile");
  std::string out = dir / "r.json";
  // This process holds the lock, as a running `alloclab run -o r.json` would.
  int fd = ::open((out + ".lock").c_str(), O_RDWR | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);
  std::string pid = std::to_string(::getpid()) + "\n";
  ASSERT_EQ(::write(fd, pid.data(), pid.size()), static_cast<ssize_t>(pid.size()));
  auto o = alloclab({"run", "--backends", "null", "--workloads", "http1-static", "--requests", "10", "-q", "-o", out});
  EXPECT_TRUE(bad_input(o));
  EXPECT_NE(o.err.find("another alloclab run (pid " + std::to_string(::getpid())), std::string::npos) << o.err;
  EXPECT_FALSE(fs::exists(out));
  ::close(fd);  // released: the same run now goes ahead and removes the lock file at the end
  o = alloclab({"run", "--backends", "null", "--workloads", "http1-static", "--requests", "10", "-q", "-o", out});
  EXPECT_TRUE(o.ok()) << o.err;
  EXPECT_TRUE(fs::exists(out));
  EXPECT_FALSE(fs::exists(out + ".lock"));
}

}  // namespace
}  // namespace alloclab
