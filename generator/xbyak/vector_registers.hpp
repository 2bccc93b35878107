#pragma once
// Hands out vector registers by role, once each, at the plan's width (ymm or zmm); asking
// for more than the plan allows is a planner bug and throws instead of silently aliasing
// two roles onto one register.
#include <convjit/error.hpp>

#include <xbyak/xbyak.h>

#include <string>

namespace convjit {

class VectorRegisters {
 public:
  VectorRegisters(int lanes, int count) : lanes_(lanes), count_(count) {}

  Xbyak::Xmm take(const char* role) {
    if (next_ >= count_)
      throw Error("plan", "no vector register left for " + std::string(role) + " (" +
                              std::to_string(count_) + " available)");
    const int index = next_++;
    if (lanes_ == 16) return Xbyak::Zmm(index);
    return Xbyak::Ymm(index);
  }
  int used() const { return next_; }

 private:
  int lanes_;
  int count_;
  int next_ = 0;
};

}  // namespace convjit
