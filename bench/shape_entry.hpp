#pragma once
// One line of a shapes file (bench/shapes_file.hpp): a named shape, how many times the layer
// occurs in its network, and the file it came from.
#include <convjit/shape.hpp>

#include <cstdint>
#include <string>

namespace convjit::bench {

struct ShapeEntry {
  // A label only (a SPEC argument is its own name).
  std::string name;
  ConvShape shape;
  // How many times the layer occurs in the network the file describes: the suite weights the
  // per-file totals by it, so identical layers are listed (and measured) once.
  std::int64_t count = 1;
  // The stem of the shapes file ("resnet50" for bench/networks/resnet50.txt); empty for a
  // SPEC given on the command line. The summary totals the entries of each source.
  std::string source;
};

}  // namespace convjit::bench
