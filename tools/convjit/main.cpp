#include <convjit/convjit.hpp>
#include <iostream>
int main(int argc, char** argv) {
  try {
    if (argc > 1) std::cout << convjit::ConvSpec::parse(argv[1]).resolve().to_string() << "\n";
  } catch (const convjit::Error& e) {
    std::cerr << e.what() << "\n";
    return 2;
  }
}
