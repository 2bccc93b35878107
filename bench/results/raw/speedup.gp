set terminal pngcairo size 1500,700 noenhanced font 'DejaVu Sans,11'
set output 'speedup.png'
set style fill solid 0.9 border rgb '#404040'
set grid ytics lc rgb '#d0d0d0'
set key outside top center horizontal
set bmargin 6.5
set xtics ("seed_8x8_valid" 0, "seed_8x8_same" 1, "seed_8x8_s2" 2, "seed_28_s3_p1" 3, "lenet_c1" 4, "resnet_conv1" 5, "resnet_3x3_56" 6, "resnet_3x3_28" 7, "resnet_3x3_14" 8, "resnet_3x3_s2" 9, "pointwise_1x1_14" 10, "dilated_d2_56" 11, "batch8_3x3_28" 12) rotate by 30 right nomirror
set xrange [-0.6:12.6]
set logscale y
set yrange [0.5:172.88409805634672]
set ylabel 'other median / xbyak median (log scale; > 1: xbyak faster)'
set title 'Speed-up of xbyak over each other backend (--isa avx2, single thread)'
plot 'raw/speedup.dat' index 0 using 1:2:3:4:5:6 with boxxyerror lc rgb '#7f7f7f' title 'vs generic', \
     'raw/speedup.dat' index 1 using 1:2:3:4:5:6 with boxxyerror lc rgb '#bcbd22' title 'vs reference', \
     'raw/speedup.dat' index 2 using 1:2:3:4:5:6 with boxxyerror lc rgb '#ff7f0e' title 'vs im2col_openblas', \
     'raw/speedup.dat' index 3 using 1:2:3:4:5:6 with boxxyerror lc rgb '#d62728' title 'vs onednn', \
     'raw/speedup.dat' index 4 using 1:2:3:4:5:6 with boxxyerror lc rgb '#2ca02c' title 'vs xnnpack', \
     'raw/speedup.dat' index 5 using 1:2:3:4:5:6 with boxxyerror lc rgb '#9467bd' title 'vs llvm', \
     1 with lines lw 2 lc rgb '#000000' notitle
