#pragma once
#include "bench/bench_suite.hpp"
// Shared pieces of the `convjit` command-line tool: the commands, argument parsing, small
// formatting helpers, test data and timing. Every failure is a convjit::Error, which main()
// prints as one line ("convjit: <field>: <reason>") before exiting with status 2.
#include <convjit/convjit.hpp>

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace convjit::cli {

// Exit statuses.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // verify found a mismatch
inline constexpr int kExitUsage = 2;    // bad argument, bad spec, unknown command

// One command: its arguments are everything after the command name.
using CommandFn = int (*)(const std::vector<std::string>& args);

int cmd_demo(const std::vector<std::string>& args);
int cmd_shape(const std::vector<std::string>& args);
int cmd_summary(const std::vector<std::string>& args);
int cmd_plan(const std::vector<std::string>& args);
int cmd_asm(const std::vector<std::string>& args);
int cmd_verify(const std::vector<std::string>& args);
int cmd_bench(const std::vector<std::string>& args);
int cmd_tune(const std::vector<std::string>& args);

// ------------------------------------------------------------------ arguments
// Options are "--name value", "--name=value" or flags ("--json"). Anything else is a
// positional argument. An unknown option, a missing value or a value option given twice is
// a convjit::Error naming the option.
struct ParsedArgs {
  std::vector<std::string> positional;
  std::map<std::string, std::string> values;  // option name (with "--") -> value
  std::set<std::string> flags;                // option names (with "--")

  bool flag(std::string_view name) const { return flags.count(std::string(name)) != 0; }
  bool has(std::string_view name) const { return values.count(std::string(name)) != 0; }
  // The option's value, or `fallback` when it was not given.
  std::string value(std::string_view name, std::string fallback = {}) const;
};

ParsedArgs parse_args(const std::vector<std::string>& args, std::string_view command,
                      const std::vector<std::string_view>& value_options,
                      const std::vector<std::string_view>& flag_options);

// A whole decimal integer in [min, max]; otherwise Error(field, ...).
std::int64_t parse_integer(std::string_view field, std::string_view text, std::int64_t min,
                           std::int64_t max);

// "a,b,c" -> {"a","b","c"}; an empty item is an Error(field, ...).
std::vector<std::string> split_list(std::string_view field, std::string_view text, char sep = ',');

// "xbyak,generic" -> backends, each checked by parse_backend (Error("backend", ...)).
std::vector<Backend> parse_backend_list(std::string_view text);

// Parses and resolves a spec; errors are the spec's own (Error(<key>, <reason>)).
ConvShape parse_shape(std::string_view spec_text);

// ------------------------------------------------------------------ formatting
using bench::json_escape;
// A number the way a person reads it: integers without a fraction, else `digits`
// significant digits.
std::string format_number(double value, int digits = 4);
// 1234567 -> "1,234,567" (Keras' totals).
std::string with_thousands(std::int64_t value);
// A microsecond time with three significant digits ("0.0412", "12.3", "4120").
std::string format_us(double us);

// A plain text table: first row is the header, then a dashed rule. `align` has one
// character per column, 'l' or 'r' (default 'l').
void print_table(std::ostream& out, const std::vector<std::vector<std::string>>& rows,
                 std::string_view align, std::string_view indent = "");

// ------------------------------------------------------------------ data and timing
// Deterministic uniform floats in [lo, hi] (same on every platform and standard library).
std::vector<float> random_floats(std::size_t count, std::uint64_t seed, float lo = -1.0f,
                                 float hi = 1.0f);

// Median microseconds of `fn` over repeated calls: the first call counts as a sample only
// when it alone exceeds the budget; otherwise at least 3 samples are taken, and more until
// `budget_s` seconds are spent (at most `max_samples`).
double median_us(const std::function<void()>& fn, double budget_s = 0.2, int max_samples = 2000);

}  // namespace convjit::cli
