#pragma once
// WorkSplit: how run() shares one batch among a team of threads. Items are (image, channel
// tile, unit of work) (KernelPlan::work: output rows, or Winograd's blocks of tiles); each thread takes a contiguous share and turns it into as few kernel
// calls as it can. Every output element is computed by the same code whatever the split, so
// results are bit-identical for any team size.
#include <algorithm>
#include <cstdint>

namespace convjit {

struct WorkSplit {
  std::int64_t images = 1;
  std::int64_t tiles = 1;  // channel tiles per call: 1 unless the split is by channel tiles
  std::int64_t units = 1;  // per image
  bool by_channel_tiles = false;

  std::int64_t items() const { return images * tiles * units; }
  // Thread t of nt: items [first, last).
  std::int64_t share_begin(std::int64_t t, std::int64_t nt) const { return items() * t / nt; }

  // The kernel calls covering items [first, last):
  // visit(image, tile_begin, tile_end, unit_begin, unit_end); tile_end -1 means every tile.
  template <class Visit>
  void for_each_call(std::int64_t first, std::int64_t last, Visit visit) const {
    while (first < last) {
      const std::int64_t image = first / (tiles * units);
      const std::int64_t tile = first / units % tiles;
      const std::int64_t unit = first % units;
      const std::int64_t count = std::min(last - first, units - unit);
      if (by_channel_tiles) visit(image, tile, tile + 1, unit, unit + count);
      else visit(image, std::int64_t{0}, std::int64_t{-1}, unit, unit + count);
      first += count;
    }
  }
};

// Units alone when they share out evenly or are plenty; otherwise (image, channel tile, unit)
// items, so one image with few units still keeps every thread busy. code_splits_tiles: the
// kernel honours KernelCallArgs' tile range.
inline WorkSplit split_work(std::int64_t images, std::int64_t units, std::int64_t channel_tiles,
                            bool code_splits_tiles, int team) {
  const std::int64_t work = images * units;
  WorkSplit split{images, 1, units, false};
  split.by_channel_tiles =
      channel_tiles > 1 && code_splits_tiles && work % team != 0 && work < 8 * team;
  if (split.by_channel_tiles) split.tiles = channel_tiles;
  return split;
}

// The busiest thread's items over the mean when a team of `team` shares one image of a kernel
// that splits channel tiles (the JIT kernels): 1 is an even split; above 1, some threads wait.
inline double team_imbalance(std::int64_t units, std::int64_t channel_tiles, int team) {
  if (team <= 1) return 1.0;
  const std::int64_t items = split_work(1, units, channel_tiles, true, team).items();
  const std::int64_t busiest = (items + team - 1) / team;
  return static_cast<double>(busiest) * team / static_cast<double>(items);
}

}  // namespace convjit
