set terminal pngcairo size 1500,650 noenhanced font 'DejaVu Sans,11'
set output 'peak_fraction.png'
set style fill solid 0.9 border rgb '#404040'
set grid ytics lc rgb '#d0d0d0'
set key outside top center horizontal
set bmargin 6.5
set xtics ("seed_8x8_valid" 0, "seed_8x8_same" 1, "seed_8x8_s2" 2, "seed_28_s3_p1" 3, "lenet_c1" 4, "resnet_conv1" 5, "resnet_3x3_56" 6, "resnet_3x3_28" 7, "resnet_3x3_14" 8, "resnet_3x3_s2" 9, "pointwise_1x1_14" 10, "dilated_d2_56" 11, "batch8_3x3_28" 12) rotate by 30 right nomirror
set xrange [-0.6:12.6]
set yrange [0:153]
set format y '%.0f%%'
set ylabel '% of measured AVX2 FMA peak'
set title 'Fraction of the measured single-thread AVX2 FMA peak (--isa avx2; XNNPACK cannot be capped and may use AVX-512)'
plot 'raw/peak_fraction.dat' index 0 using 1:2:3:4:5:6 with boxxyerror lc rgb '#1f77b4' title 'xbyak', \
     'raw/peak_fraction.dat' index 1 using 1:2:3:4:5:6 with boxxyerror lc rgb '#9467bd' title 'llvm', \
     'raw/peak_fraction.dat' index 2 using 1:2:3:4:5:6 with boxxyerror lc rgb '#d62728' title 'onednn', \
     'raw/peak_fraction.dat' index 3 using 1:2:3:4:5:6 with boxxyerror lc rgb '#2ca02c' title 'xnnpack', \
     85 with lines dt 2 lw 2 lc rgb '#000000' title '85% (share of FMA peak target)', \
     100 with lines dt 1 lw 1 lc rgb '#808080' title '100% of AVX2 FMA peak'
