// The spec string (docs/ARCHITECTURE.md, "Spec string"): every key and spelling, defaults, order and
// whitespace, to_string() round trips, and the errors: each invalid spec throws
// convjit::Error naming the field and the reason.
#define BOOST_TEST_MODULE spec_parse
#include <boost/test/unit_test.hpp>

#include "tests/support/test_support.hpp"

#include <algorithm>
#include <limits>
#include <string>
#include <vector>

using namespace convjit;
using convjit::testing::ConvCase;

namespace {

// The required keys, completed by each test's extra keys.
const std::string kBase = "c=3,h=8,w=9,oc=4,k=3";

ConvSpec parse(const std::string& text) { return ConvSpec::parse(text); }
ConvSpec parse_with(const std::string& extra) { return ConvSpec::parse(kBase + "," + extra); }

struct Invalid {
  std::string text;
  std::string field;
  std::string reason;  // substring of Error::reason()
};

// Parses and resolves; checks the error's field and reason.
void check_invalid(const Invalid& bad) {
  BOOST_TEST_CONTEXT("spec '" << bad.text << "'") {
    try {
      (void)ConvSpec::parse(bad.text).resolve();
      BOOST_ERROR("did not throw; expected field '" << bad.field << "': " << bad.reason);
    } catch (const convjit::Error& e) {
      BOOST_TEST(e.field() == bad.field);
      BOOST_TEST(e.reason().find(bad.reason) != std::string::npos,
                 "reason '" << e.reason() << "' lacks '" << bad.reason << "'");
      // The message carries both, for a host application to print verbatim.
      BOOST_TEST(std::string(e.what()).find(bad.field) != std::string::npos);
      BOOST_TEST(std::string(e.what()).find(e.reason()) != std::string::npos);
    } catch (const std::exception& e) {
      BOOST_ERROR("threw something other than convjit::Error: " << e.what());
    }
  }
}

void check_invalid_spec(const ConvSpec& spec, const std::string& field, const std::string& reason) {
  BOOST_TEST_CONTEXT("spec struct " << spec.to_string()) {
    try {
      (void)spec.resolve();
      BOOST_ERROR("did not throw; expected field '" << field << "'");
    } catch (const convjit::Error& e) {
      BOOST_TEST(e.field() == field);
      BOOST_TEST(e.reason().find(reason) != std::string::npos,
                 "reason '" << e.reason() << "' lacks '" << reason << "'");
    }
  }
}

ConvSpec valid_struct() {
  ConvSpec spec;
  spec.c = 3; spec.h = 8; spec.w = 9; spec.oc = 4; spec.kh = spec.kw = 3;
  return spec;
}

}  // namespace

// -------------------------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(keys)

BOOST_AUTO_TEST_CASE(required_keys_set_sizes_and_channels) {
  const ConvSpec s = parse(kBase);
  BOOST_TEST(s.c == 3);
  BOOST_TEST(s.h == 8);
  BOOST_TEST(s.w == 9);
  BOOST_TEST(s.oc == 4);
  BOOST_TEST(s.kh == 3);
  BOOST_TEST(s.kw == 3);
}

BOOST_AUTO_TEST_CASE(absent_keys_take_the_documented_defaults) {
  const ConvSpec s = parse(kBase);
  BOOST_TEST(s.n == 1);
  BOOST_TEST(s.sh == 1);
  BOOST_TEST(s.sw == 1);
  BOOST_TEST(s.dh == 1);
  BOOST_TEST(s.dw == 1);
  BOOST_TEST((s.padding == PaddingMode::valid));
  BOOST_TEST(s.pad_top + s.pad_bottom + s.pad_left + s.pad_right == 0);
  BOOST_TEST(s.groups == 1);
  BOOST_TEST((s.layout == Layout::nhwc));
  BOOST_TEST(s.bias);
  BOOST_TEST((s.act.kind == ActivationKind::none));
  // And the same defaults as a default-constructed struct with the required fields.
  BOOST_TEST((s == valid_struct()));
}

BOOST_AUTO_TEST_CASE(n_sets_the_batch) { BOOST_TEST(parse_with("n=16").n == 16); }

BOOST_AUTO_TEST_CASE(k_sets_both_kernel_dimensions) {
  const ConvSpec s = parse("c=1,h=8,w=8,oc=1,k=5");
  BOOST_TEST(s.kh == 5);
  BOOST_TEST(s.kw == 5);
}

BOOST_AUTO_TEST_CASE(kh_and_kw_set_each_kernel_dimension) {
  const ConvSpec s = parse("c=1,h=8,w=8,oc=1,kh=3,kw=1");
  BOOST_TEST(s.kh == 3);
  BOOST_TEST(s.kw == 1);
}

BOOST_AUTO_TEST_CASE(s_sets_both_strides_and_sh_sw_each) {
  const ConvSpec a = parse_with("s=2");
  BOOST_TEST(a.sh == 2);
  BOOST_TEST(a.sw == 2);
  const ConvSpec b = parse_with("sh=3,sw=1");
  BOOST_TEST(b.sh == 3);
  BOOST_TEST(b.sw == 1);
  const ConvSpec c = parse_with("sw=2");  // the other one keeps its default
  BOOST_TEST(c.sh == 1);
  BOOST_TEST(c.sw == 2);
}

BOOST_AUTO_TEST_CASE(d_sets_both_dilations_and_dh_dw_each) {
  const ConvSpec a = parse_with("d=2");
  BOOST_TEST(a.dh == 2);
  BOOST_TEST(a.dw == 2);
  const ConvSpec b = parse_with("dh=2,dw=3");
  BOOST_TEST(b.dh == 2);
  BOOST_TEST(b.dw == 3);
  BOOST_TEST(parse_with("dh=2").dw == 1);
}

BOOST_AUTO_TEST_CASE(g_sets_groups_and_depthwise_is_g_equals_c_equals_oc) {
  BOOST_TEST(parse("c=8,h=8,w=8,oc=4,k=3,g=2").groups == 2);
  const ConvShape dw = parse("c=8,h=8,w=8,oc=8,k=3,g=8").resolve();
  BOOST_TEST(dw.is_depthwise());
  BOOST_TEST(!parse(kBase).resolve().is_depthwise());
}

BOOST_AUTO_TEST_CASE(layout_accepts_nhwc_and_nchw) {
  BOOST_TEST((parse_with("layout=nhwc").layout == Layout::nhwc));
  BOOST_TEST((parse_with("layout=nchw").layout == Layout::nchw));
}

BOOST_AUTO_TEST_CASE(bias_accepts_0_and_1) {
  BOOST_TEST(parse_with("bias=1").bias);
  BOOST_TEST(!parse_with("bias=0").bias);
  BOOST_TEST(parse_with("bias=0").resolve().bias_elems() == 0);
}

BOOST_AUTO_TEST_SUITE_END()

// -------------------------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(padding_keys)

BOOST_AUTO_TEST_CASE(p_integer_pads_all_four_sides) {
  const ConvSpec s = parse_with("p=2");
  BOOST_TEST((s.padding == PaddingMode::explicit_pads));
  BOOST_TEST(s.pad_top == 2);
  BOOST_TEST(s.pad_bottom == 2);
  BOOST_TEST(s.pad_left == 2);
  BOOST_TEST(s.pad_right == 2);
  BOOST_TEST((parse_with("p=0").padding == PaddingMode::explicit_pads));
}

BOOST_AUTO_TEST_CASE(p_accepts_the_named_modes) {
  BOOST_TEST((parse_with("p=same").padding == PaddingMode::same));
  BOOST_TEST((parse_with("p=same_lower").padding == PaddingMode::same_lower));
  BOOST_TEST((parse_with("p=valid").padding == PaddingMode::valid));
}

BOOST_AUTO_TEST_CASE(ph_and_pw_pad_symmetrically_per_axis) {
  const ConvSpec s = parse_with("ph=1,pw=2");
  BOOST_TEST((s.padding == PaddingMode::explicit_pads));
  BOOST_TEST(s.pad_top == 1);
  BOOST_TEST(s.pad_bottom == 1);
  BOOST_TEST(s.pad_left == 2);
  BOOST_TEST(s.pad_right == 2);
  const ConvSpec only_h = parse_with("ph=1");
  BOOST_TEST(only_h.pad_left == 0);
  BOOST_TEST(only_h.pad_right == 0);
}

BOOST_AUTO_TEST_CASE(pt_pb_pl_pr_pad_each_side_and_default_to_zero) {
  const ConvSpec s = parse_with("pt=1,pb=2,pl=3,pr=4");
  BOOST_TEST(s.pad_top == 1);
  BOOST_TEST(s.pad_bottom == 2);
  BOOST_TEST(s.pad_left == 3);
  BOOST_TEST(s.pad_right == 4);
  const ConvSpec partial = parse_with("pb=2");
  BOOST_TEST((partial.padding == PaddingMode::explicit_pads));
  BOOST_TEST(partial.pad_top == 0);
  BOOST_TEST(partial.pad_bottom == 2);
  BOOST_TEST(partial.pad_left == 0);
  BOOST_TEST(partial.pad_right == 0);
}

BOOST_AUTO_TEST_CASE(ph_combines_with_left_and_right_sides) {
  const ConvSpec s = parse_with("ph=1,pl=2,pr=0");
  BOOST_TEST(s.pad_top == 1);
  BOOST_TEST(s.pad_bottom == 1);
  BOOST_TEST(s.pad_left == 2);
  BOOST_TEST(s.pad_right == 0);
}

BOOST_AUTO_TEST_CASE(padding_spellings_resolve_to_the_same_shape) {
  const ConvShape a = parse("c=1,h=8,w=8,oc=1,k=3,p=1").resolve();
  const ConvShape b = parse("c=1,h=8,w=8,oc=1,k=3,ph=1,pw=1").resolve();
  const ConvShape c = parse("c=1,h=8,w=8,oc=1,k=3,pt=1,pb=1,pl=1,pr=1").resolve();
  const ConvShape d = parse("c=1,h=8,w=8,oc=1,k=3,p=same").resolve();
  BOOST_TEST((a == b));
  BOOST_TEST((a == c));
  BOOST_TEST((a == d));  // 'same' is only a way to ask for these pads
  const ConvShape v = parse("c=1,h=8,w=8,oc=1,k=3,p=valid").resolve();
  BOOST_TEST((v == parse("c=1,h=8,w=8,oc=1,k=3,p=0").resolve()));
  BOOST_TEST((v == parse("c=1,h=8,w=8,oc=1,k=3").resolve()));
}

BOOST_AUTO_TEST_SUITE_END()

// -------------------------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(activation)

BOOST_AUTO_TEST_CASE(act_none_and_relu) {
  BOOST_TEST((parse_with("act=none").act.kind == ActivationKind::none));
  BOOST_TEST((parse_with("act=relu").act.kind == ActivationKind::relu));
}

BOOST_AUTO_TEST_CASE(act_clamp_reads_both_bounds) {
  const Activation a = parse_with("act=clamp:0:6").act;
  BOOST_TEST((a.kind == ActivationKind::clamp));
  BOOST_TEST(a.lo == 0.0f);
  BOOST_TEST(a.hi == 6.0f);
  const Activation b = parse_with("act=clamp:-1.5:2.25").act;
  BOOST_TEST(b.lo == -1.5f);
  BOOST_TEST(b.hi == 2.25f);
  const Activation c = parse_with("act=clamp:-1e-3:2.5e1").act;
  BOOST_TEST(c.lo == -1e-3f);
  BOOST_TEST(c.hi == 25.0f);
  const Activation d = parse_with("act=clamp:0.5:0.5").act;  // lo == hi is allowed
  BOOST_TEST(d.lo == d.hi);
}

BOOST_AUTO_TEST_SUITE_END()

// -------------------------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(order_and_whitespace)

BOOST_AUTO_TEST_CASE(keys_are_order_free) {
  std::vector<std::string> items = {"c=4", "h=8", "w=9", "oc=6", "k=3", "g=2", "p=same"};
  std::sort(items.begin(), items.end());
  const ConvSpec first = parse("c=4,h=8,w=9,oc=6,k=3,g=2,p=same");
  int permutations = 0;
  do {
    std::string text;
    for (const auto& item : items) text += (text.empty() ? "" : ",") + item;
    BOOST_TEST((parse(text) == first), text);
    ++permutations;
  } while (std::next_permutation(items.begin(), items.end()));
  BOOST_TEST(permutations == 5040);
}

BOOST_AUTO_TEST_CASE(whitespace_around_keys_values_and_commas_is_ignored) {
  const ConvSpec plain = parse("c=3,h=8,w=9,oc=4,k=3,p=same,act=relu");
  BOOST_TEST((parse(" c = 3 , h=8\t,\tw =9,oc= 4 , k=3 ,p = same,act=relu ") == plain));
  BOOST_TEST((parse("c=3, h=8, w=9, oc=4, k=3, p=same, act=relu\n") == plain));
  BOOST_TEST((parse("c=3,h=8,w=9,oc=4,k=3,p=same,act=relu\r\n") == plain));
}

BOOST_AUTO_TEST_CASE(leading_zeros_are_plain_decimal) {
  BOOST_TEST(parse("c=03,h=08,w=9,oc=4,k=3").h == 8);
}

BOOST_AUTO_TEST_SUITE_END()

// -------------------------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(round_trip)

BOOST_AUTO_TEST_CASE(spec_to_string_is_canonical) {
  BOOST_TEST(parse("k=3,oc=1,w=8,h=8,c=1,p=same").to_string() == "n=1,c=1,h=8,w=8,oc=1,k=3,p=same");
  BOOST_TEST(parse("c=1,h=8,w=8,oc=1,kh=3,kw=3,sh=2,sw=2,dh=1,dw=1").to_string() ==
             "n=1,c=1,h=8,w=8,oc=1,k=3,s=2");
  BOOST_TEST(parse("c=4,h=8,w=8,oc=4,kh=3,kw=1,sh=2,sw=1,d=2,ph=1,g=4,layout=nchw,bias=0,act=relu")
                 .to_string() ==
             "n=1,c=4,h=8,w=8,oc=4,kh=3,kw=1,sh=2,sw=1,d=2,pt=1,pb=1,pl=0,pr=0,g=4,layout=nchw,"
             "bias=0,act=relu");
}

BOOST_AUTO_TEST_CASE(spec_to_string_parses_back_to_an_equal_spec) {
  const std::vector<std::string> texts = {
      kBase,
      "n=4,c=64,h=56,w=56,oc=64,k=3,p=same",
      "c=1,h=8,w=8,oc=1,k=3,p=same_lower",
      "c=1,h=8,w=8,oc=1,k=3,p=valid",
      "c=1,h=8,w=8,oc=1,k=3,p=2",
      "c=1,h=8,w=8,oc=1,k=3,ph=1,pw=2",
      "c=1,h=8,w=8,oc=1,k=3,pt=0,pb=1,pl=2,pr=3",
      "c=6,h=10,w=12,oc=9,kh=3,kw=5,sh=2,sw=3,dh=2,dw=1,g=3",
      "c=8,h=8,w=8,oc=8,k=3,g=8,layout=nchw,bias=0",
      "c=1,h=8,w=8,oc=1,k=3,act=relu",
      "c=1,h=8,w=8,oc=1,k=3,act=clamp:0:6",
      "c=1,h=8,w=8,oc=1,k=3,act=clamp:-0.5:0.25",
      "c=1,h=8,w=8,oc=1,k=3,act=clamp:-1e+10:1e+20",
  };
  for (const auto& text : texts) {
    const ConvSpec spec = parse(text);
    BOOST_TEST((parse(spec.to_string()) == spec), text << " -> " << spec.to_string());
    BOOST_TEST(parse(spec.to_string()).to_string() == spec.to_string());
  }
}

BOOST_AUTO_TEST_CASE(shape_to_string_has_explicit_pads_and_resolves_back) {
  const ConvShape s = parse("c=1,h=8,w=8,oc=1,k=2,p=same").resolve();
  BOOST_TEST(s.to_string() == "n=1,c=1,h=8,w=8,oc=1,k=2,pt=0,pb=1,pl=0,pr=1");
  BOOST_TEST((parse(s.to_string()).resolve() == s));
}

BOOST_AUTO_TEST_CASE(random_shapes_round_trip_through_their_strings) {
  std::mt19937_64 rng(31);
  for (int i = 0; i < 500; ++i) {
    const ConvShape s = convjit::testing::random_shape(rng);
    const ConvShape back = parse(s.to_string()).resolve();
    BOOST_TEST((back == s), s.to_string() << " -> " << back.to_string());
    BOOST_TEST(back.hash() == s.hash(), s.to_string());
  }
}

BOOST_AUTO_TEST_CASE(builder_specs_round_trip_in_every_padding_mode) {
  for (auto mode : {0, 1, 2, 3, 4}) {
    ConvCase c = ConvCase().input(7, 9, 4).output_channels(6).kernel(3, 2).stride(2, 1).groups(2);
    if (mode == 0) c.padding_valid();
    if (mode == 1) c.padding_same();
    if (mode == 2) c.padding_same_lower();
    if (mode == 3) c.padding(1, 2);
    if (mode == 4) c.padding(0, 1, 2, 3);
    BOOST_TEST((parse(c.spec().to_string()) == c.spec()), c.spec().to_string());
    BOOST_TEST((parse(c.shape().to_string()).resolve() == c.shape()), c.shape().to_string());
  }
}

// ConvShape::to_string() promises to parse back to an equal shape; the shape is the cache
// key, so clamp bounds must print at full float precision.
BOOST_AUTO_TEST_CASE(clamp_bounds_round_trip_at_full_float_precision) {
  const ConvSpec spec = parse_with("act=clamp:-0.1234567:6.0000005");
  BOOST_TEST((parse(spec.to_string()) == spec), spec.to_string());
  const ConvShape shape = spec.resolve();
  BOOST_TEST((parse(shape.to_string()).resolve() == shape), shape.to_string());
}

BOOST_AUTO_TEST_CASE(equal_shapes_hash_equal_and_different_shapes_usually_differ) {
  const ConvShape a = parse("c=1,h=8,w=8,oc=1,k=3,p=1").resolve();
  const ConvShape b = parse("c=1,h=8,w=8,oc=1,k=3,p=same").resolve();
  BOOST_TEST(a.hash() == b.hash());
  BOOST_TEST(a.hash() != parse("c=1,h=8,w=8,oc=1,k=3,p=1,layout=nchw").resolve().hash());
  BOOST_TEST(a.hash() != parse("c=1,h=8,w=8,oc=1,k=3,p=1,bias=0").resolve().hash());
  BOOST_TEST(a.hash() != parse("c=1,h=8,w=8,oc=1,k=3,p=1,act=relu").resolve().hash());
  BOOST_TEST(a.hash() != parse("c=1,h=8,w=8,oc=1,k=3,pt=1,pb=1,pl=1,pr=0").resolve().hash());
}

BOOST_AUTO_TEST_SUITE_END()

// -------------------------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(invalid_specs)

BOOST_AUTO_TEST_CASE(empty_specs_and_empty_items_are_rejected) {
  for (const Invalid& bad : std::vector<Invalid>{
           {"", "spec", "is empty"},
           {"   ", "spec", "is empty"},
           {"c=3,,h=8,w=9,oc=4,k=3", "spec", "empty item"},
           {"c=3,h=8,w=9,oc=4,k=3,", "spec", "empty item"},
           {",c=3,h=8,w=9,oc=4,k=3", "spec", "empty item"},
           {",", "spec", "empty item"},
       })
    check_invalid(bad);
}

BOOST_AUTO_TEST_CASE(malformed_items_are_rejected) {
  for (const Invalid& bad : std::vector<Invalid>{
           {"c=3,h=8,w=9,oc=4,k", "k", "expected key=value"},
           {"c=3,h=8,w=9,oc=4,k=3,relu", "relu", "expected key=value"},
           {"c=,h=8,w=9,oc=4,k=3", "c", "has no value"},
           {"c=3,h=8,w=9,oc=4,k=3,act=", "act", "has no value"},
       })
    check_invalid(bad);
}

BOOST_AUTO_TEST_CASE(unknown_and_duplicate_keys_are_rejected) {
  for (const Invalid& bad : std::vector<Invalid>{
           {kBase + ",foo=1", "foo", "unknown key"},
           {kBase + ",stride=2", "stride", "unknown key"},
           {kBase + ",C=3", "C", "unknown key"},  // keys are case-sensitive
           {kBase + ",c=3", "c", "given more than once"},
           {kBase + ",g=1,g=1", "g", "given more than once"},
           {kBase + ",p=1,p=1", "p", "given more than once"},
       })
    check_invalid(bad);
}

BOOST_AUTO_TEST_CASE(missing_required_keys_are_named) {
  for (const Invalid& bad : std::vector<Invalid>{
           {"h=8,w=9,oc=4,k=3", "c", "is required"},
           {"c=3,w=9,oc=4,k=3", "h", "is required"},
           {"c=3,h=8,oc=4,k=3", "w", "is required"},
           {"c=3,h=8,w=9,k=3", "oc", "is required"},
           {"c=3,h=8,w=9,oc=4", "k", "is required"},
           {"c=3,h=8,w=9,oc=4,kh=3", "kw", "is required"},
           {"c=3,h=8,w=9,oc=4,kw=3", "kh", "is required"},
       })
    check_invalid(bad);
}

BOOST_AUTO_TEST_CASE(zero_and_negative_sizes_are_rejected) {
  // Note: k, s and d are reported under the field they resolve to (kh, sh, dh).
  for (const Invalid& bad : std::vector<Invalid>{
           {"c=0,h=8,w=9,oc=4,k=3", "c", "must be positive"},
           {"c=3,h=-8,w=9,oc=4,k=3", "h", "must be positive"},
           {"c=3,h=8,w=0,oc=4,k=3", "w", "must be positive"},
           {"c=3,h=8,w=9,oc=0,k=3", "oc", "must be positive"},
           {kBase + ",n=0", "n", "must be positive"},
           {"c=3,h=8,w=9,oc=4,k=0", "kh", "must be positive"},
           {"c=3,h=8,w=9,oc=4,kh=3,kw=-1", "kw", "must be positive"},
           {kBase + ",s=0", "sh", "must be positive"},
           {kBase + ",sh=1,sw=-2", "sw", "must be positive"},
           {kBase + ",d=0", "dh", "must be positive"},
           {kBase + ",dw=0", "dw", "must be positive"},
           {kBase + ",g=0", "g", "must be positive"},
       })
    check_invalid(bad);
}

BOOST_AUTO_TEST_CASE(non_integer_values_are_rejected) {
  for (const Invalid& bad : std::vector<Invalid>{
           {"c=3,h=8,w=9,oc=4,k=abc", "k", "expected an integer"},
           {"c=3,h=8,w=9,oc=4,k=3.5", "k", "expected an integer"},
           {"c=3,h=8,w=9,oc=4,k=+3", "k", "expected an integer"},
           {"c=3,h=8x,w=9,oc=4,k=3", "h", "expected an integer"},
           {"c=3,h=8,w=9,oc=4,k=3 3", "k", "expected an integer"},
           {kBase + ",p=full", "p", "expected an integer"},
           {kBase + ",p=SAME", "p", "expected an integer"},
           {kBase + ",pt=one", "pt", "expected an integer"},
           {kBase + ",g=two", "g", "expected an integer"},
       })
    check_invalid(bad);
}

BOOST_AUTO_TEST_CASE(conflicting_spellings_are_rejected) {
  for (const Invalid& bad : std::vector<Invalid>{
           {"c=3,h=8,w=9,oc=4,k=3,kh=3", "kh", "cannot be combined with 'k'"},
           {"c=3,h=8,w=9,oc=4,k=3,kw=3", "kw", "cannot be combined with 'k'"},
           {kBase + ",s=1,sh=2", "sh", "cannot be combined with 's'"},
           {kBase + ",s=1,sw=2", "sw", "cannot be combined with 's'"},
           {kBase + ",d=1,dh=2", "dh", "cannot be combined with 'd'"},
           {kBase + ",d=1,dw=2", "dw", "cannot be combined with 'd'"},
           {kBase + ",p=1,pt=1", "pt", "cannot be combined with 'p'"},
           {kBase + ",p=same,ph=1", "ph", "cannot be combined with 'p'"},
           {kBase + ",p=valid,pr=0", "pr", "cannot be combined with 'p'"},
           {kBase + ",ph=1,pt=1", "pt", "cannot be combined with 'ph'"},
           {kBase + ",ph=1,pb=1", "pb", "cannot be combined with 'ph'"},
           {kBase + ",pw=1,pl=1", "pl", "cannot be combined with 'pw'"},
           {kBase + ",pw=1,pr=1", "pr", "cannot be combined with 'pw'"},
       })
    check_invalid(bad);
}

BOOST_AUTO_TEST_CASE(bad_layout_bias_and_act_values_are_rejected) {
  for (const Invalid& bad : std::vector<Invalid>{
           {kBase + ",layout=nhcw", "layout", "expected nhwc or nchw"},
           {kBase + ",layout=NHWC", "layout", "expected nhwc or nchw"},
           {kBase + ",bias=yes", "bias", "expected 0 or 1"},
           {kBase + ",bias=2", "bias", "expected 0 or 1"},
           {kBase + ",act=gelu", "act", "expected none, relu, clamp:LO:HI, leaky_relu[:ALPHA], hardswish"},
           {kBase + ",act=RELU", "act", "expected none, relu, clamp:LO:HI"},
           {kBase + ",act=clamp", "act", "expected none, relu, clamp:LO:HI"},
           {kBase + ",act=leaky_relu:inf", "act", "expected a finite number"},
           {kBase + ",act=sigmoid:1", "act", "expected none, relu, clamp:LO:HI"},
           {kBase + ",act=clamp:1", "act", "needs both bounds"},
           {kBase + ",act=clamp:a:1", "act", "expected a finite number"},
           {kBase + ",act=clamp:0:", "act", "expected a finite number"},
           {kBase + ",act=clamp:0:1:2", "act", "expected a finite number"},
           {kBase + ",act=clamp:nan:1", "act", "expected a finite number"},
           {kBase + ",act=clamp:0:inf", "act", "expected a finite number"},
           {kBase + ",act=clamp:6:0", "act", "lower bound is above the upper bound"},
           {kBase + ",act=clamp:0.5:-0.5", "act", "lower bound is above the upper bound"},
       })
    check_invalid(bad);
}

BOOST_AUTO_TEST_CASE(kernel_larger_than_the_padded_input_is_rejected) {
  for (const Invalid& bad : std::vector<Invalid>{
           {"c=1,h=2,w=8,oc=1,k=3", "kh", "larger than the padded input height"},
           {"c=1,h=8,w=2,oc=1,k=3", "kw", "larger than the padded input width"},
           {"c=1,h=8,w=8,oc=1,k=3,d=4", "kh", "with dilation"},       // E = 9 > 8
           {"c=1,h=8,w=8,oc=1,k=3,dw=4", "kw", "with dilation"},
           {"c=1,h=1,w=8,oc=1,k=3,pt=1", "kh", "larger than the padded input"},  // 2 < 3
           {"c=1,h=8,w=1,oc=1,k=3,pl=0,pr=1", "kw", "larger than the padded input"},
       })
    check_invalid(bad);
}

BOOST_AUTO_TEST_CASE(channels_not_divisible_by_groups_are_rejected) {
  for (const Invalid& bad : std::vector<Invalid>{
           {"c=3,h=8,w=8,oc=4,k=3,g=2", "g", "input channels c=3 are not divisible by g=2"},
           {"c=4,h=8,w=8,oc=3,k=3,g=2", "g", "output channels oc=3 are not divisible by g=2"},
           {"c=4,h=8,w=8,oc=4,k=3,g=8", "g", "not divisible"},
       })
    check_invalid(bad);
}

BOOST_AUTO_TEST_CASE(negative_padding_is_rejected) {
  // Note: p and ph/pw are reported under the side they resolve to (pt, pl).
  for (const Invalid& bad : std::vector<Invalid>{
           {kBase + ",p=-1", "pt", "must not be negative"},
           {kBase + ",pt=-1", "pt", "must not be negative"},
           {kBase + ",pb=-2", "pb", "must not be negative"},
           {kBase + ",pl=-1", "pl", "must not be negative"},
           {kBase + ",pr=-1", "pr", "must not be negative"},
           {kBase + ",pw=-1", "pl", "must not be negative"},
       })
    check_invalid(bad);
}

BOOST_AUTO_TEST_CASE(absurdly_large_sizes_are_rejected_not_overflowed) {
  for (const Invalid& bad : std::vector<Invalid>{
           {"c=3,h=99999999999999999999999,w=9,oc=4,k=3", "h", "out of range"},
           {"c=3,h=-99999999999999999999999,w=9,oc=4,k=3", "h", "out of range"},
           {"c=3,h=16777217,w=9,oc=4,k=3", "h", "above the supported maximum"},
           {"c=1048577,h=8,w=9,oc=4,k=3", "c", "above the supported maximum"},
           {"c=3,h=8,w=9,oc=1048577,k=3", "oc", "above the supported maximum"},
           {"c=3,h=8,w=9,oc=4,k=1025", "kh", "above the supported maximum"},
           {kBase + ",s=1025", "sh", "above the supported maximum"},
           {kBase + ",d=1025", "dh", "above the supported maximum"},
           {kBase + ",p=16777217", "pt", "above the supported maximum"},
           {kBase + ",n=9223372036854775807", "n", "above the supported maximum"},
           // Each size within bounds, their products not.
           {"c=1048576,h=16777216,w=16777216,oc=1,k=1", "src", "too large"},
           {"n=16777216,c=1048576,h=1,w=1,oc=1,k=1", "src", "too large"},
           {"c=1,h=16777216,w=1,oc=1,k=1,p=16777216", "dst", "too large"},
           {"c=16384,h=1024,w=1024,oc=2,k=1024", "weights", "too large"},
       })
    check_invalid(bad);
}

BOOST_AUTO_TEST_CASE(invalid_structs_are_rejected_by_resolve) {
  {
    ConvSpec s = valid_struct();
    s.padding = PaddingMode::explicit_pads;
    s.pad_bottom = -1;
    check_invalid_spec(s, "pb", "must not be negative");
  }
  {
    ConvSpec s = valid_struct();
    s.padding = PaddingMode::explicit_pads;
    s.pad_right = -3;
    check_invalid_spec(s, "pr", "must not be negative");
  }
  {
    ConvSpec s = valid_struct();
    s.groups = -1;
    check_invalid_spec(s, "g", "must be positive");
  }
  {
    ConvSpec s = valid_struct();
    s.kw = 0;
    check_invalid_spec(s, "kw", "must be positive");
  }
  {
    ConvSpec s = valid_struct();
    s.c = 0;  // the default of a bare struct: c, h, w, oc, kh, kw are required
    check_invalid_spec(s, "c", "must be positive");
    check_invalid_spec(ConvSpec{}, "c", "must be positive");
  }
  {
    ConvSpec s = valid_struct();
    s.act = {ActivationKind::clamp, 1.0f, 0.0f};
    check_invalid_spec(s, "act", "lower bound is above the upper bound");
    s.act = {ActivationKind::clamp, std::numeric_limits<float>::quiet_NaN(), 1.0f};
    check_invalid_spec(s, "act", "lower bound");
  }
}

BOOST_AUTO_TEST_CASE(valid_extremes_are_accepted_not_clamped) {
  // Bounds are inclusive, and large explicit padding is kept as given.
  BOOST_TEST(parse("c=1,h=16777216,w=1,oc=1,k=1").resolve().h == 16777216);
  BOOST_TEST(parse("c=1048576,h=1,w=1,oc=1,k=1").resolve().c == 1048576);
  const ConvShape big_pad = parse("c=1,h=8,w=8,oc=1,k=3,p=100").resolve();
  BOOST_TEST(big_pad.pad_top == 100);
  BOOST_TEST(big_pad.out_h == 206);
  const ConvShape big_kernel = parse("c=1,h=1024,w=1024,oc=1,k=1024").resolve();
  BOOST_TEST(big_kernel.out_h == 1);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(spec_text_edges)

BOOST_AUTO_TEST_CASE(an_item_without_a_key_names_the_spec) {
  try {
    convjit::ConvSpec::parse("c=1,h=8,w=8,oc=1,k=3,=3");
    BOOST_FAIL("expected convjit::Error");
  } catch (const convjit::Error& e) {
    BOOST_TEST(e.field() == "spec");
    BOOST_TEST(e.reason().find("no key") != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(line_breaks_around_items_are_ignored_like_spaces) {
  const auto spec = convjit::ConvSpec::parse("\nc=1,\r\nh=8, w=8 ,oc=1,k=3\n");
  BOOST_TEST(spec.c == 1);
  BOOST_TEST(spec.h == 8);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(engine_keys)

BOOST_AUTO_TEST_CASE(add_and_pixel_strides_parse_resolve_and_print_back) {
  const ConvSpec spec = ConvSpec::parse("c=64,h=56,w=56,oc=64,k=3,p=1,add=1,src_stride=96,dst_stride=256");
  BOOST_TEST(spec.add_residual);
  BOOST_TEST(spec.src_stride == 96);
  BOOST_TEST(spec.dst_stride == 256);
  const ConvShape s = spec.resolve();
  BOOST_TEST(s.src_pixel_stride() == 96);
  BOOST_TEST(s.dst_pixel_stride() == 256);
  BOOST_TEST(s.to_string().find(",add=1,src_stride=96,dst_stride=256") != std::string::npos);
  BOOST_TEST((ConvSpec::parse(s.to_string()).resolve() == s));
  BOOST_TEST((ConvSpec::parse(spec.to_string()) == spec));
}

BOOST_AUTO_TEST_CASE(the_defaults_are_no_residual_and_dense_pixels) {
  const ConvShape s = ConvSpec::parse("c=3,h=5,w=5,oc=4,k=3").resolve();
  BOOST_TEST(!s.add_residual);
  BOOST_TEST(s.dense_src());
  BOOST_TEST(s.dense_dst());
  BOOST_TEST(s.src_pixel_stride() == 3);
  BOOST_TEST(s.dst_pixel_stride() == 4);
  BOOST_TEST(s.to_string().find("stride") == std::string::npos);
  BOOST_TEST(s.to_string().find("add") == std::string::npos);
  // A stride equal to the channels is the dense shape, with one spelling.
  BOOST_TEST((ConvSpec::parse("c=3,h=5,w=5,oc=4,k=3,src_stride=3,dst_stride=4").resolve() == s));
  BOOST_TEST((ConvSpec::parse("c=3,h=5,w=5,oc=4,k=3,add=0").resolve() == s));
}

BOOST_AUTO_TEST_CASE(a_repeated_engine_key_is_an_error_naming_it) {
  BOOST_TEST(testing::error_field([] { ConvSpec::parse("c=3,h=5,w=5,oc=4,k=3,add=1,add=1"); }) == "add");
  BOOST_TEST(testing::error_field([] { ConvSpec::parse("c=3,h=5,w=5,oc=4,k=3,src_stride=x"); }) ==
             "src_stride");
}

BOOST_AUTO_TEST_SUITE_END()
