#pragma once
// The one exception type convjit throws: it names the offending field (a spec key, an
// argument, an option) and the reason, so a host application can report it verbatim.
#include <stdexcept>
#include <string>

namespace convjit {

class Error : public std::runtime_error {
 public:
  Error(std::string field, std::string reason)
      : std::runtime_error("convjit: " + field + ": " + reason),
        field_(std::move(field)),
        reason_(std::move(reason)) {}

  const std::string& field() const noexcept { return field_; }
  const std::string& reason() const noexcept { return reason_; }

 private:
  std::string field_;
  std::string reason_;
};

}  // namespace convjit
