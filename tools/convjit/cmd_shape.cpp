// convjit shape SPEC [--json]: output shape, resolved padding, parameters, MFLOP.
#include "tools/convjit/cli.hpp"

#include <iostream>

namespace convjit::cli {

int cmd_shape(const std::vector<std::string>& args) {
  const ParsedArgs parsed = parse_args(args, "shape", {}, {"--json"});
  if (parsed.positional.empty()) throw Error("shape", "needs a SPEC (see convjit shape --help)");
  if (parsed.positional.size() > 1)
    throw Error("shape", "takes one SPEC, got " + std::to_string(parsed.positional.size()) +
                             " (quote a spec that contains spaces)");
  const ConvShape s = parse_shape(parsed.positional[0]);

  if (parsed.flag("--json")) {
    std::cout << "{\"spec\":\"" << json_escape(s.to_string()) << "\""
              << ",\"n\":" << s.n << ",\"c\":" << s.c << ",\"h\":" << s.h << ",\"w\":" << s.w
              << ",\"oc\":" << s.oc << ",\"kh\":" << s.kh << ",\"kw\":" << s.kw
              << ",\"sh\":" << s.sh << ",\"sw\":" << s.sw << ",\"dh\":" << s.dh
              << ",\"dw\":" << s.dw << ",\"groups\":" << s.groups << ",\"layout\":\""
              << to_string(s.layout) << "\",\"bias\":" << (s.bias ? "true" : "false")
              << ",\"act\":\"" << json_escape(to_string(s.act)) << "\""
              << ",\"out_h\":" << s.out_h << ",\"out_w\":" << s.out_w << ",\"pad\":["
              << s.pad_top << "," << s.pad_bottom << "," << s.pad_left << "," << s.pad_right
              << "]" << ",\"params\":" << s.params() << ",\"weights\":" << s.weight_elems()
              << ",\"bias_params\":" << s.bias_elems() << ",\"flops\":"
              << format_number(s.flops(), 17) << "}\n";
    return kExitOk;
  }

  const bool nhwc = s.layout == Layout::nhwc;
  const std::string input = nhwc ? std::to_string(s.h) + "x" + std::to_string(s.w) + "x" + std::to_string(s.c)
                                 : std::to_string(s.c) + "x" + std::to_string(s.h) + "x" + std::to_string(s.w);
  std::cout << "spec      " << s.to_string() << "\n"
            << "input     " << s.n << "x" << input << (nhwc ? " (N x H x W x C)\n" : " (N x C x H x W)\n")
            << "output    " << s.n << "x" << s.out_h << "x" << s.out_w << "x" << s.oc
            << " (N x OH x OW x OC, " << to_string(s.layout) << ")\n"
            << "padding   top " << s.pad_top << ", bottom " << s.pad_bottom << ", left "
            << s.pad_left << ", right " << s.pad_right << "\n"
            << "kernel    " << s.kh << "x" << s.kw << ", stride " << s.sh << "x" << s.sw
            << ", dilation " << s.dh << "x" << s.dw << ", groups " << s.groups << "\n"
            << "params    " << s.params() << " (" << s.weight_elems() << " weights + "
            << s.bias_elems() << " bias)\n"
            << "work      " << format_number(s.flops() / 1e6, 4) << " MFLOP\n";
  return kExitOk;
}

}  // namespace convjit::cli
