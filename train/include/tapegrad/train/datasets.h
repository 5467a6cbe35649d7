#pragma once
/// Readers for the two classic image datasets, each file validated before it is trusted: a wrong
/// magic number, a file shorter or longer than its header says, or images and labels that do
/// not pair up are a tg::Error naming the file and the problem.
///
/// MNIST (IDX files, http://yann.lecun.com/exdb/mnist/ format, uncompressed):
///   auto train = tg::data::load_mnist("data/mnist", /*train=*/true);  // TensorDataset
///   // train-images-idx3-ubyte + train-labels-idx1-ubyte -> {image [1, 28, 28] in [0, 1], label}
///
/// CIFAR-10 (the "binary version": data_batch_1.bin ... data_batch_5.bin, test_batch.bin):
///   auto test = tg::data::load_cifar10("data/cifar-10-batches-bin", /*train=*/false);
///   // -> {image [3, 32, 32] in [0, 1], label}
#include <memory>
#include <string>
#include <vector>

#include "tapegrad/core/tensor.h"
#include "tapegrad/train/data.h"

namespace tg::data {

/// One IDX file as a tensor of its declared shape. Unsigned and signed bytes, shorts and ints
/// become int64; floats float32; doubles float64 (IDX stores big-endian; any host works).
Tensor read_idx(const std::string& path);

/// Images and labels of the MNIST (or Fashion-MNIST) IDX pair: images float32 [N, 1, rows, cols]
/// scaled to [0, 1], labels int64 [N]. The images file must be 3-d unsigned bytes (magic 2051),
/// the labels file 1-d unsigned bytes (magic 2049), with the same N.
std::shared_ptr<TensorDataset> read_mnist(const std::string& images_path, const std::string& labels_path);
/// read_mnist on a folder's train-images-idx3-ubyte / train-labels-idx1-ubyte (or t10k-... when
/// !train).
std::shared_ptr<TensorDataset> load_mnist(const std::string& folder, bool train = true);

/// CIFAR-10 binary batches: each record is a label byte (0..9) then 3072 pixel bytes (red,
/// green, blue planes of 32 x 32). Images float32 [N, 3, 32, 32] in [0, 1], labels int64 [N].
std::shared_ptr<TensorDataset> read_cifar10(const std::vector<std::string>& paths);
/// read_cifar10 on a folder's data_batch_1.bin ... data_batch_5.bin (or test_batch.bin when !train).
std::shared_ptr<TensorDataset> load_cifar10(const std::string& folder, bool train = true);

}  // namespace tg::data
