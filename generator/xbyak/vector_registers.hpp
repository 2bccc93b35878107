#pragma once
// Hands out ymm registers by role, once each; asking for more than 16 is a planner bug and
// throws instead of silently aliasing two roles onto one register.
#include <convjit/error.hpp>

#include <xbyak/xbyak.h>

#include <string>

namespace convjit {

class VectorRegisters {
 public:
  Xbyak::Ymm take(const char* role) {
    if (next_ >= 16) throw Error("plan", std::string("no ymm register left for ") + role);
    return Xbyak::Ymm(next_++);
  }
  int used() const { return next_; }

 private:
  int next_ = 0;
};

}  // namespace convjit
