set terminal pngcairo size 700,480 noenhanced font 'DejaVu Sans,11'
set output 'layers_resnet18.png'
set style fill solid 0.9 border rgb '#404040'
set grid ytics lc rgb '#d0d0d0'
set key outside top center horizontal
set title 'ResNet-18, per convolution: eager nn.Conv2d time / converted module time'
set ylabel 'speed-up (x)'
set boxwidth 0.38
set xtics ("conv1" 0, "layer1.0.conv1" 1, "layer1.0.conv2" 2, "layer1.1.conv1" 3, "layer1.1.conv2" 4, "layer2.0.conv1" 5, "layer2.0.conv2" 6, "layer2.0.downsample.0" 7, "layer2.1.conv1" 8, "layer2.1.conv2" 9, "layer3.0.conv1" 10, "layer3.0.conv2" 11, "layer3.0.downsample.0" 12, "layer3.1.conv1" 13, "layer3.1.conv2" 14, "layer4.0.conv1" 15, "layer4.0.conv2" 16, "layer4.0.downsample.0" 17, "layer4.1.conv1" 18, "layer4.1.conv2" 19) rotate by 45 right nomirror
set xrange [-0.6:19.6]
set yrange [0:*]
set arrow from graph 0, first 1 to graph 1, first 1 nohead lc rgb '#000000' dt 2
plot 'raw/layers_resnet18.dat' using ($1-0.2000):2 with boxes lc rgb '#1f77b4' title 'NCHW', 'raw/layers_resnet18.dat' using ($1+0.2000):3 with boxes lc rgb '#ff7f0e' title 'channels_last'
