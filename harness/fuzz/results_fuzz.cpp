// libFuzzer target for the results reader (scripts/fuzz.sh results builds and
// runs it). The oracle is the command line's: any input is either rejected
// with a ResultsError (exit 2) or a valid file that every reader then takes
// without an exception: the summaries and scaling, both exports, a comparison
// with itself, and a second read of what it serializes to, which must give
// the same cells. A crash, any other exception, a sanitizer report or an
// allocation past libFuzzer's -rss_limit_mb is a finding.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "harness/run/compare.hpp"
#include "harness/run/export.hpp"
#include "harness/run/results.hpp"

using namespace alloclab::run;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Results r;
  try {
    r = Results::parse(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.json");
  } catch (const ResultsError&) {
    return 0;  // exit 2
  }
  export_gbench(r);
  export_csv(r);
  try {
    compare(r, r, CompareOptions{});
  } catch (const CompareError&) {
    // No groups with ok cells: exit 2 on the command line too.
  }
  Results again = Results::parse(r.serialize(), "fuzz.json (serialized)");
  if (again.cells.size() != r.cells.size()) std::abort();
  for (std::size_t i = 0; i < r.cells.size(); ++i)
    if (again.cells[i].text != r.cells[i].text || again.cells[i].metrics != r.cells[i].metrics) std::abort();
  return 0;
}
