// ConvSpec: parsing the spec string, resolving padding and output size, validation.
#include <convjit/error.hpp>
#include <convjit/shape.hpp>
#include <convjit/spec.hpp>

#include <charconv>
#include <cmath>
#include <limits>
#include <map>
#include <sstream>
#include <tuple>
#include <vector>

namespace convjit {
namespace {

// Bounds that keep every derived count (elements, byte offsets, FLOPs) far from 64-bit
// overflow and every generated displacement inside 32 bits.
constexpr std::int64_t kMaxSpatial = std::int64_t{1} << 24;
constexpr std::int64_t kMaxChannels = std::int64_t{1} << 20;
constexpr std::int64_t kMaxKernel = 1024;
constexpr std::int64_t kMaxStrideOrDilation = 1024;
constexpr std::int64_t kMaxTensorElems = std::int64_t{1} << 34;  // 64 GiB of floats

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_blank(s.back())) s.remove_suffix(1);
  return s;
}

// Shortest text that parses back to the same float (clamp bounds are part of the cache key).
std::string exact_float(float value) {
  char buffer[32];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  return ec == std::errc() ? std::string(buffer, end) : std::to_string(value);
}

std::int64_t parse_integer(std::string_view key, std::string_view value) {
  std::int64_t out = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), out);
  if (value.empty() || ec == std::errc::invalid_argument || end != value.data() + value.size())
    throw Error(std::string(key), "expected an integer, got '" + std::string(value) + "'");
  if (ec == std::errc::result_out_of_range)
    throw Error(std::string(key), "value '" + std::string(value) + "' is out of range");
  return out;
}

float parse_float(std::string_view key, std::string_view value) {
  float out = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), out);
  if (value.empty() || ec != std::errc() || end != value.data() + value.size() || !std::isfinite(out))
    throw Error(std::string(key), "expected a finite number, got '" + std::string(value) + "'");
  return out;
}

Activation parse_activation(std::string_view value) {
  if (value == "none") return {};
  if (value == "relu") return {ActivationKind::relu, 0.0f, 0.0f};
  if (value == "hardswish") return {ActivationKind::hardswish};
  if (value == "silu" || value == "swish") return {ActivationKind::silu};
  if (value == "sigmoid") return {ActivationKind::sigmoid};
  if (value.substr(0, 6) == "clamp:") {
    std::string_view rest = value.substr(6);
    auto colon = rest.find(':');
    if (colon == std::string_view::npos)
      throw Error("act", "clamp needs both bounds, as clamp:LO:HI");
    Activation act{ActivationKind::clamp, parse_float("act", rest.substr(0, colon)),
                   parse_float("act", rest.substr(colon + 1))};
    if (act.lo > act.hi) throw Error("act", "clamp lower bound is above the upper bound");
    return act;
  }
  if (value == "leaky_relu") return {ActivationKind::leaky_relu, 0.0f, 0.0f, 0.01f};  // PyTorch's
  if (value.substr(0, 11) == "leaky_relu:") {
    Activation act{ActivationKind::leaky_relu};
    act.alpha = parse_float("act", value.substr(11));
    return act;
  }
  throw Error("act", "expected none, relu, clamp:LO:HI, leaky_relu[:ALPHA], hardswish, silu or "
                     "sigmoid, got '" + std::string(value) + "'");
}

// Keys grouped by what they set; a spec may use one spelling per quantity.
const std::vector<std::string_view>& known_keys() {
  static const std::vector<std::string_view> keys = {
      "n", "c", "h", "w", "oc", "k", "kh", "kw", "s", "sh", "sw", "d", "dh", "dw",
      "p", "ph", "pw", "pt", "pb", "pl", "pr", "g", "layout", "bias", "act",
      "add", "src_stride", "dst_stride", "algo", "src", "dst"};
  return keys;
}

void reject_conflict(const std::map<std::string, std::string, std::less<>>& kv,
                     std::string_view a, std::string_view b) {
  if (kv.count(a) && kv.count(b))
    throw Error(std::string(b), "cannot be combined with '" + std::string(a) + "'");
}

void require_positive(std::string_view key, std::int64_t value, std::int64_t max) {
  if (value <= 0) throw Error(std::string(key), "must be positive, got " + std::to_string(value));
  if (value > max)
    throw Error(std::string(key),
                "is " + std::to_string(value) + ", above the supported maximum " + std::to_string(max));
}

void require_padding(std::string_view key, std::int64_t value) {
  if (value < 0) throw Error(std::string(key), "must not be negative, got " + std::to_string(value));
  if (value > kMaxSpatial)
    throw Error(std::string(key), "is " + std::to_string(value) + ", above the supported maximum");
}

std::int64_t checked_product(std::string_view what, std::initializer_list<std::int64_t> factors) {
  std::int64_t result = 1;
  for (std::int64_t f : factors) {
    if (f != 0 && result > kMaxTensorElems / f)
      throw Error(std::string(what), "tensor is too large (more than 2^34 elements)");
    result *= f;
  }
  return result;
}

DataType parse_data_type(const char* key, std::string_view value) {
  for (DataType type : {DataType::f32, DataType::u8, DataType::s8, DataType::s32})
    if (value == to_string(type)) return type;
  throw Error(key, "expected f32, u8, s8 or s32, got '" + std::string(value) + "'");
}

// What the 8-bit kernels compute: NHWC direct convolutions with u8/s8 input, requantized to
// u8/s8, or s32 accumulators, or dequantized f32; ReLU in the quantized domain.
void validate_data_types(const ConvSpec& spec) {
  if (spec.src_type == DataType::s32)
    throw Error("src", "expected f32, u8 or s8 (s32 is an output type)");
  if (spec.src_type == DataType::f32) {
    if (spec.dst_type != DataType::f32)
      throw Error("dst", std::string(to_string(spec.dst_type)) +
                             " output needs 8-bit input (src=u8 or src=s8); f32 input gives f32");
    return;
  }
  if (spec.layout != Layout::nhwc)
    throw Error("layout", "8-bit kernels compute NHWC; nchw is not supported with src=" +
                              std::string(to_string(spec.src_type)));
  if (spec.algo != Algorithm::automatic && spec.algo != Algorithm::direct)
    throw Error("algo", "8-bit kernels are direct; " + std::string(to_string(spec.algo)) +
                            " is fp32 only");
  if (spec.add_residual) throw Error("add", "a residual add is not built for 8-bit kernels yet");
  if (spec.act.kind == ActivationKind::none) return;
  if (spec.act.kind != ActivationKind::relu)
    throw Error("act", "8-bit kernels clamp in the quantized domain: act=none or relu, not " +
                           to_string(spec.act));
  if (spec.dst_type == DataType::s32 || spec.dst_type == DataType::f32)
    throw Error("act", "relu applies to u8 or s8 output (a clamp at the output zero point); " +
                           std::string(to_string(spec.dst_type)) + " output takes none");
}

}  // namespace

ConvSpec ConvSpec::parse(std::string_view text) {
  std::map<std::string, std::string, std::less<>> kv;
  std::string_view rest = text;
  while (true) {
    auto comma = rest.find(',');
    std::string_view item = trim(rest.substr(0, comma));
    if (item.empty()) {
      if (comma == std::string_view::npos && kv.empty() && trim(text).empty())
        throw Error("spec", "is empty");
      if (comma != std::string_view::npos || !kv.empty())
        throw Error("spec", "has an empty item in '" + std::string(text) + "'");
    } else {
      auto eq = item.find('=');
      if (eq == std::string_view::npos)
        throw Error(std::string(item), "expected key=value");
      std::string key(trim(item.substr(0, eq)));
      std::string value(trim(item.substr(eq + 1)));
      if (key.empty()) throw Error("spec", "item '" + std::string(item) + "' has no key");
      bool known = false;
      for (auto k : known_keys()) known = known || k == key;
      if (!known) throw Error(key, "unknown key");
      if (value.empty()) throw Error(key, "has no value");
      if (!kv.emplace(key, value).second) throw Error(key, "given more than once");
    }
    if (comma == std::string_view::npos) break;
    rest = rest.substr(comma + 1);
  }

  reject_conflict(kv, "k", "kh");
  reject_conflict(kv, "k", "kw");
  reject_conflict(kv, "s", "sh");
  reject_conflict(kv, "s", "sw");
  reject_conflict(kv, "d", "dh");
  reject_conflict(kv, "d", "dw");
  for (auto side : {"ph", "pw", "pt", "pb", "pl", "pr"}) reject_conflict(kv, "p", side);
  reject_conflict(kv, "ph", "pt");
  reject_conflict(kv, "ph", "pb");
  reject_conflict(kv, "pw", "pl");
  reject_conflict(kv, "pw", "pr");

  auto integer = [&](std::string_view key, std::int64_t fallback) {
    auto it = kv.find(key);
    return it == kv.end() ? fallback : parse_integer(key, it->second);
  };
  auto required = [&](std::string_view key) {
    if (!kv.count(key)) throw Error(std::string(key), "is required");
    return integer(key, 0);
  };

  ConvSpec spec;
  spec.n = integer("n", 1);
  spec.c = required("c");
  spec.h = required("h");
  spec.w = required("w");
  spec.oc = required("oc");
  if (kv.count("k")) {
    spec.kh = spec.kw = integer("k", 0);
  } else {
    if (!kv.count("kh") && !kv.count("kw")) throw Error("k", "is required (or kh and kw)");
    spec.kh = required("kh");
    spec.kw = required("kw");
  }
  spec.sh = integer("sh", integer("s", 1));
  spec.sw = integer("sw", integer("s", 1));
  spec.dh = integer("dh", integer("d", 1));
  spec.dw = integer("dw", integer("d", 1));
  spec.groups = integer("g", 1);

  if (auto p = kv.find("p"); p != kv.end()) {
    if (p->second == "valid") {
      spec.padding = PaddingMode::valid;
    } else if (p->second == "same") {
      spec.padding = PaddingMode::same;
    } else if (p->second == "same_lower") {
      spec.padding = PaddingMode::same_lower;
    } else {
      std::int64_t all = parse_integer("p", p->second);
      spec.padding = PaddingMode::explicit_pads;
      spec.pad_top = spec.pad_bottom = spec.pad_left = spec.pad_right = all;
    }
  } else {
    bool any = false;
    for (auto side : {"ph", "pw", "pt", "pb", "pl", "pr"}) any = any || kv.count(side);
    if (any) {
      spec.padding = PaddingMode::explicit_pads;
      spec.pad_top = integer("pt", integer("ph", 0));
      spec.pad_bottom = integer("pb", integer("ph", 0));
      spec.pad_left = integer("pl", integer("pw", 0));
      spec.pad_right = integer("pr", integer("pw", 0));
    }
  }

  if (auto it = kv.find("layout"); it != kv.end()) {
    if (it->second == "nhwc") spec.layout = Layout::nhwc;
    else if (it->second == "nchw") spec.layout = Layout::nchw;
    else throw Error("layout", "expected nhwc or nchw, got '" + it->second + "'");
  }
  if (auto it = kv.find("bias"); it != kv.end()) {
    if (it->second == "1") spec.bias = true;
    else if (it->second == "0") spec.bias = false;
    else throw Error("bias", "expected 0 or 1, got '" + it->second + "'");
  }
  if (auto it = kv.find("act"); it != kv.end()) spec.act = parse_activation(it->second);
  if (auto it = kv.find("add"); it != kv.end()) {
    if (it->second == "1") spec.add_residual = true;
    else if (it->second == "0") spec.add_residual = false;
    else throw Error("add", "expected 0 or 1, got '" + it->second + "'");
  }
  if (auto it = kv.find("algo"); it != kv.end()) spec.algo = parse_algorithm(it->second);
  if (auto it = kv.find("src"); it != kv.end()) spec.src_type = parse_data_type("src", it->second);
  spec.dst_type = spec.src_type;
  if (auto it = kv.find("dst"); it != kv.end()) spec.dst_type = parse_data_type("dst", it->second);
  spec.src_stride = integer("src_stride", 0);
  spec.dst_stride = integer("dst_stride", 0);
  if (kv.count("src_stride") && spec.src_stride <= 0)
    throw Error("src_stride", "must be positive, got " + std::to_string(spec.src_stride));
  if (kv.count("dst_stride") && spec.dst_stride <= 0)
    throw Error("dst_stride", "must be positive, got " + std::to_string(spec.dst_stride));
  return spec;
}

ConvShape ConvSpec::resolve() const {
  require_positive("n", n, kMaxSpatial);
  require_positive("c", c, kMaxChannels);
  require_positive("h", h, kMaxSpatial);
  require_positive("w", w, kMaxSpatial);
  require_positive("oc", oc, kMaxChannels);
  require_positive("kh", kh, kMaxKernel);
  require_positive("kw", kw, kMaxKernel);
  require_positive("sh", sh, kMaxStrideOrDilation);
  require_positive("sw", sw, kMaxStrideOrDilation);
  require_positive("dh", dh, kMaxStrideOrDilation);
  require_positive("dw", dw, kMaxStrideOrDilation);
  require_positive("g", groups, kMaxChannels);
  if (c % groups != 0)
    throw Error("g", "input channels c=" + std::to_string(c) + " are not divisible by g=" +
                         std::to_string(groups));
  if (oc % groups != 0)
    throw Error("g", "output channels oc=" + std::to_string(oc) + " are not divisible by g=" +
                         std::to_string(groups));
  if (act.kind == ActivationKind::clamp && !(act.lo <= act.hi))
    throw Error("act", "clamp lower bound is above the upper bound");
  if (act.kind == ActivationKind::leaky_relu && !std::isfinite(act.alpha))
    throw Error("act", "the leaky_relu slope must be a finite number");

  // A pixel stride is a distance between NHWC pixels; NCHW has none to give.
  for (auto [key, stride, channels, name] :
       {std::tuple{"src_stride", src_stride, c, "c"}, {"dst_stride", dst_stride, oc, "oc"}}) {
    if (stride == 0) continue;
    if (layout != Layout::nhwc)
      throw Error(key, "applies to layout=nhwc only (nchw planes are dense)");
    if (stride < channels)
      throw Error(key, std::to_string(stride) + " is below the channel count " + name + "=" +
                           std::to_string(channels) + "; pixels would overlap");
    if (stride > kMaxChannels * 16)
      throw Error(key, "is " + std::to_string(stride) + ", above the supported maximum " +
                           std::to_string(kMaxChannels * 16));
  }

  validate_data_types(*this);

  ConvShape s;
  s.src_type = src_type;
  s.dst_type = dst_type;
  s.n = n; s.c = c; s.h = h; s.w = w; s.oc = oc;
  s.add_residual = add_residual;
  s.src_stride = src_stride != c ? src_stride : 0;  // dense has one spelling in the cache key
  s.dst_stride = dst_stride != oc ? dst_stride : 0;
  s.kh = kh; s.kw = kw; s.sh = sh; s.sw = sw; s.dh = dh; s.dw = dw;
  s.groups = groups; s.layout = layout; s.bias = bias; s.act = act;

  AxisPadding vertical, horizontal;
  switch (padding) {
    case PaddingMode::valid:
      break;
    case PaddingMode::same:
    case PaddingMode::same_lower: {
      const bool lower = padding == PaddingMode::same_lower;
      vertical = same_padding(h, kh, sh, dh, lower);
      horizontal = same_padding(w, kw, sw, dw, lower);
      break;
    }
    case PaddingMode::explicit_pads:
      require_padding("pt", pad_top);
      require_padding("pb", pad_bottom);
      require_padding("pl", pad_left);
      require_padding("pr", pad_right);
      vertical = {pad_top, pad_bottom};
      horizontal = {pad_left, pad_right};
      break;
  }
  s.pad_top = vertical.before;
  s.pad_bottom = vertical.after;
  s.pad_left = horizontal.before;
  s.pad_right = horizontal.after;

  const std::int64_t extent_h = effective_kernel(kh, dh);
  const std::int64_t extent_w = effective_kernel(kw, dw);
  if (h + vertical.before + vertical.after < extent_h)
    throw Error("kh", "the kernel's extent " + std::to_string(extent_h) +
                          " (with dilation) is larger than the padded input height " +
                          std::to_string(h + vertical.before + vertical.after));
  if (w + horizontal.before + horizontal.after < extent_w)
    throw Error("kw", "the kernel's extent " + std::to_string(extent_w) +
                          " (with dilation) is larger than the padded input width " +
                          std::to_string(w + horizontal.before + horizontal.after));
  s.out_h = conv_output_size(h, kh, sh, dh, vertical);
  s.out_w = conv_output_size(w, kw, sw, dw, horizontal);

  checked_product("src", {n, s.src_pixel_stride(), h, w});
  checked_product("dst", {n, s.dst_pixel_stride(), s.out_h, s.out_w});
  checked_product("weights", {kh, kw, c / groups, oc});
  s.algo = algo;
  if (winograd_tile_of(algo) || algo == Algorithm::winograd)
    if (std::string why = winograd_ineligibility(s); !why.empty())
      throw Error("algo", std::string(convjit::to_string(algo)) + " cannot compute this shape: " + why);
  return s;
}

std::string_view to_string(Algorithm algo) {
  switch (algo) {
    case Algorithm::automatic: return "auto";
    case Algorithm::direct: return "direct";
    case Algorithm::winograd: return "winograd";
    case Algorithm::winograd_f2: return "winograd_f2";
    case Algorithm::winograd_f4: return "winograd_f4";
    case Algorithm::winograd_f6: return "winograd_f6";
  }
  return "?";
}

Algorithm parse_algorithm(std::string_view name) {
  for (Algorithm a : {Algorithm::automatic, Algorithm::direct, Algorithm::winograd,
                      Algorithm::winograd_f2, Algorithm::winograd_f4, Algorithm::winograd_f6})
    if (name == to_string(a)) return a;
  throw Error("algo", "expected auto, direct, winograd, winograd_f2, winograd_f4 or winograd_f6, "
                      "got '" + std::string(name) + "'");
}

int winograd_tile_of(Algorithm algo) {
  switch (algo) {
    case Algorithm::winograd_f2: return 2;
    case Algorithm::winograd_f4: return 4;
    case Algorithm::winograd_f6: return 6;
    default: return 0;
  }
}

std::string winograd_ineligibility(const ConvShape& s) {
  if (s.quantized()) return "it computes in fp32, not 8 bits";
  if (s.kh != 3 || s.kw != 3) return "it needs a 3x3 kernel, not " + std::to_string(s.kh) + "x" + std::to_string(s.kw);
  if (s.sh != 1 || s.sw != 1) return "it needs stride 1";
  if (s.dh != 1 || s.dw != 1) return "it needs dilation 1";
  if (s.groups != 1) return "it needs groups 1";
  return {};
}

std::string_view to_string(Layout layout) { return layout == Layout::nhwc ? "nhwc" : "nchw"; }

std::string_view to_string(PaddingMode mode) {
  switch (mode) {
    case PaddingMode::valid: return "valid";
    case PaddingMode::same: return "same";
    case PaddingMode::same_lower: return "same_lower";
    case PaddingMode::explicit_pads: return "explicit";
  }
  return "?";
}

std::string to_string(const Activation& act) {
  switch (act.kind) {
    case ActivationKind::none: return "none";
    case ActivationKind::relu: return "relu";
    case ActivationKind::clamp: return "clamp:" + exact_float(act.lo) + ":" + exact_float(act.hi);
    case ActivationKind::leaky_relu: return "leaky_relu:" + exact_float(act.alpha);
    case ActivationKind::hardswish: return "hardswish";
    case ActivationKind::silu: return "silu";
    case ActivationKind::sigmoid: return "sigmoid";
  }
  return "?";
}

namespace {

void append_tail(std::ostringstream& out, const ConvSpec& spec) {
  if (spec.groups != 1) out << ",g=" << spec.groups;
  if (spec.layout != Layout::nhwc) out << ",layout=" << to_string(spec.layout);
  if (!spec.bias) out << ",bias=0";
  if (spec.act.kind != ActivationKind::none) out << ",act=" << to_string(spec.act);
  if (spec.add_residual) out << ",add=1";
  if (spec.src_stride) out << ",src_stride=" << spec.src_stride;
  if (spec.dst_stride) out << ",dst_stride=" << spec.dst_stride;
  if (spec.algo != Algorithm::automatic) out << ",algo=" << to_string(spec.algo);
  if (spec.src_type != DataType::f32) out << ",src=" << to_string(spec.src_type);
  if (spec.dst_type != spec.src_type) out << ",dst=" << to_string(spec.dst_type);
}

void append_kernel_stride_dilation(std::ostringstream& out, std::int64_t kh, std::int64_t kw,
                                   std::int64_t sh, std::int64_t sw, std::int64_t dh,
                                   std::int64_t dw) {
  if (kh == kw) out << ",k=" << kh; else out << ",kh=" << kh << ",kw=" << kw;
  if (sh == sw) { if (sh != 1) out << ",s=" << sh; } else out << ",sh=" << sh << ",sw=" << sw;
  if (dh == dw) { if (dh != 1) out << ",d=" << dh; } else out << ",dh=" << dh << ",dw=" << dw;
}

}  // namespace

std::string ConvSpec::to_string() const {
  std::ostringstream out;
  out << "n=" << n << ",c=" << c << ",h=" << h << ",w=" << w << ",oc=" << oc;
  append_kernel_stride_dilation(out, kh, kw, sh, sw, dh, dw);
  if (padding == PaddingMode::explicit_pads)
    out << ",pt=" << pad_top << ",pb=" << pad_bottom << ",pl=" << pad_left << ",pr=" << pad_right;
  else if (padding != PaddingMode::valid)
    out << ",p=" << convjit::to_string(padding);
  append_tail(out, *this);
  return out.str();
}

}  // namespace convjit
