set terminal pngcairo size 1432,480 noenhanced font 'DejaVu Sans,11'
set output 'layers_resnet50.png'
set style fill solid 0.9 border rgb '#404040'
set grid ytics lc rgb '#d0d0d0'
set key outside top center horizontal
set title 'ResNet-50, per convolution: eager nn.Conv2d time / converted module time'
set ylabel 'speed-up (x)'
set boxwidth 0.38
set xtics ("conv1" 0, "layer1.0.conv1" 1, "layer1.0.conv2" 2, "layer1.0.conv3" 3, "layer1.0.downsample.0" 4, "layer1.1.conv1" 5, "layer1.1.conv2" 6, "layer1.1.conv3" 7, "layer1.2.conv1" 8, "layer1.2.conv2" 9, "layer1.2.conv3" 10, "layer2.0.conv1" 11, "layer2.0.conv2" 12, "layer2.0.conv3" 13, "layer2.0.downsample.0" 14, "layer2.1.conv1" 15, "layer2.1.conv2" 16, "layer2.1.conv3" 17, "layer2.2.conv1" 18, "layer2.2.conv2" 19, "layer2.2.conv3" 20, "layer2.3.conv1" 21, "layer2.3.conv2" 22, "layer2.3.conv3" 23, "layer3.0.conv1" 24, "layer3.0.conv2" 25, "layer3.0.conv3" 26, "layer3.0.downsample.0" 27, "layer3.1.conv1" 28, "layer3.1.conv2" 29, "layer3.1.conv3" 30, "layer3.2.conv1" 31, "layer3.2.conv2" 32, "layer3.2.conv3" 33, "layer3.3.conv1" 34, "layer3.3.conv2" 35, "layer3.3.conv3" 36, "layer3.4.conv1" 37, "layer3.4.conv2" 38, "layer3.4.conv3" 39, "layer3.5.conv1" 40, "layer3.5.conv2" 41, "layer3.5.conv3" 42, "layer4.0.conv1" 43, "layer4.0.conv2" 44, "layer4.0.conv3" 45, "layer4.0.downsample.0" 46, "layer4.1.conv1" 47, "layer4.1.conv2" 48, "layer4.1.conv3" 49, "layer4.2.conv1" 50, "layer4.2.conv2" 51, "layer4.2.conv3" 52) rotate by 45 right nomirror
set xrange [-0.6:52.6]
set yrange [0:*]
set arrow from graph 0, first 1 to graph 1, first 1 nohead lc rgb '#000000' dt 2
plot 'raw/layers_resnet50.dat' using ($1-0.2000):2 with boxes lc rgb '#1f77b4' title 'NCHW', 'raw/layers_resnet50.dat' using ($1+0.2000):3 with boxes lc rgb '#ff7f0e' title 'channels_last'
