set terminal pngcairo size 1500,700 noenhanced font 'DejaVu Sans,11'
set output 'gflops.png'
set style fill solid 0.9 border rgb '#404040'
set grid ytics lc rgb '#d0d0d0'
set key outside top center horizontal
set bmargin 6.5
set xtics ("seed_8x8_valid" 0, "seed_8x8_same" 1, "seed_8x8_s2" 2, "seed_28_s3_p1" 3, "lenet_c1" 4, "resnet_conv1" 5, "resnet_3x3_56" 6, "resnet_3x3_28" 7, "resnet_3x3_14" 8, "resnet_3x3_s2" 9, "pointwise_1x1_14" 10, "dilated_d2_56" 11, "batch8_3x3_28" 12) rotate by 30 right nomirror
set xrange [-0.6:12.6]
set logscale y
set yrange [0.2:212.592]
set ylabel 'GFLOP/s (single thread, log scale)'
set title 'GFLOP/s per shape and backend (--isa avx2: baselines capped to AVX2)'
plot 'raw/gflops.dat' index 0 using 1:2:3:4:5:6 with boxxyerror lc rgb '#1f77b4' title 'xbyak', \
     'raw/gflops.dat' index 1 using 1:2:3:4:5:6 with boxxyerror lc rgb '#9467bd' title 'llvm', \
     'raw/gflops.dat' index 2 using 1:2:3:4:5:6 with boxxyerror lc rgb '#7f7f7f' title 'generic', \
     'raw/gflops.dat' index 3 using 1:2:3:4:5:6 with boxxyerror lc rgb '#bcbd22' title 'reference', \
     'raw/gflops.dat' index 4 using 1:2:3:4:5:6 with boxxyerror lc rgb '#d62728' title 'onednn', \
     'raw/gflops.dat' index 5 using 1:2:3:4:5:6 with boxxyerror lc rgb '#2ca02c' title 'xnnpack', \
     'raw/gflops.dat' index 6 using 1:2:3:4:5:6 with boxxyerror lc rgb '#ff7f0e' title 'im2col_openblas', \
     95.84 with lines dt 2 lw 2 lc rgb '#000000' title 'measured AVX2 FMA peak (95.8)'
