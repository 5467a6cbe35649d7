// Views (methods of tg::Tensor, core/src/ops/view.cpp): values, shared storage and version
// counters, gradients, bad inputs.
#include "support/prelude.h"

TEST_CASE("views share the version counter of their base", "[values][inplace][views]") {
  const Tensor base = tg::zeros({2, 3});
  const Tensor row = base.select(0, 1);
  const std::uint64_t v0 = base.version();
  row.add_(1.0);
  CHECK(base.version() == v0 + 1);
  CHECK(row.version() == base.version());
}

TEST_CASE("writing through a view changes the base", "[values][views]") {
  const Tensor base = tg::zeros({3, 4});
  base.select(0, 1).fill_(5.0);
  base.slice(1, 0, 4, 2).add_(1.0);                    // columns 0 and 2
  base.t().select(0, 3).copy_(tg::tensor({7, 8, 9}));  // column 3
  CHECK(values(base) == std::vector<double>{1, 0, 1, 7, 6, 5, 6, 8, 1, 0, 1, 9});
  const Tensor v = base.view({12});
  v.mul_(2.0);
  CHECK(base.at<float>({2, 3}) == 18.0f);
  base.unsqueeze(0).expand({1, 3, 4}).select(0, 0).select(0, 0).zero_();
  CHECK(values(base.select(0, 0)) == std::vector<double>{0, 0, 0, 0});
}

TEST_CASE("views, detach and contiguous-when-contiguous share storage, clone and copying reshape do not",
          "[values][views]") {
  const Tensor x = tg::arange(0.0, 6.0).reshape({2, 3});
  CHECK(x.view({3, 2}).shares_storage_with(x));
  CHECK(x.reshape({6}).shares_storage_with(x));
  CHECK(x.t().shares_storage_with(x));
  CHECK(x.permute({1, 0}).shares_storage_with(x));
  CHECK(x.unsqueeze(1).shares_storage_with(x));
  CHECK(x.slice(1, 1, 3).shares_storage_with(x));
  CHECK(x.select(0, 1).shares_storage_with(x));
  CHECK(x.expand({4, 2, 3}).shares_storage_with(x));
  CHECK(x.detach().shares_storage_with(x));
  CHECK(x.contiguous().shares_storage_with(x));
  CHECK_FALSE(x.clone().shares_storage_with(x));
  CHECK_FALSE(x.t().contiguous().shares_storage_with(x));
  const Tensor copied = x.t().reshape({6});  // not expressible as a view: copies
  CHECK_FALSE(copied.shares_storage_with(x));
  CHECK(values(copied) == std::vector<double>{0, 3, 1, 4, 2, 5});
  x.fill_(1.0);
  CHECK(values(copied) == std::vector<double>{0, 3, 1, 4, 2, 5});
}

TEST_CASE("view values: permute, transpose, slice with a step and negative start, select", "[values][views]") {
  const Tensor x = tg::arange(0.0, 24.0).reshape({2, 3, 4});
  CHECK(shape_of(x.permute({2, 0, 1})) == Shape{4, 2, 3});
  CHECK(x.permute({2, 0, 1}).at<float>({3, 1, 2}) == 23.0f);
  CHECK(x.transpose(0, 2).at<float>({1, 2, 0}) == 9.0f);
  CHECK(values(x.select(2, -1).select(0, 0)) == std::vector<double>{3, 7, 11});
  CHECK(values(x.select(0, 1).select(0, 2).slice(0, -3, 4, 2)) == std::vector<double>{21, 23});
  CHECK(values(tg::arange(0.0, 10.0).slice(0, 1, 10, 3)) == std::vector<double>{1, 4, 7});
  CHECK(values(tg::arange(0.0, 10.0).slice(0, -4, -1)) == std::vector<double>{6, 7, 8});
  CHECK(tg::arange(0.0, 10.0).slice(0, 8, 3).numel() == 0);  // empty when end <= start
  CHECK(values(tg::arange(0.0, 5.0).slice(0, 2, 100)) == std::vector<double>{2, 3, 4});
}

TEST_CASE("view ops: gradients", "[grad][views]") {
  const Tensor x = any64({2, 3, 4}, 190);
  SECTION("view") {
    CHECK(tg::gradcheck([](const Inputs& in) { return in[0].view({4, -1}) * 2.0; }, {x}));
  }
  SECTION("reshape as a view") {
    CHECK(tg::gradcheck([](const Inputs& in) { return in[0].reshape({6, 4}); }, {x}));
  }
  SECTION("reshape that copies (of a permuted tensor)") {
    CHECK(tg::gradcheck([](const Inputs& in) { return in[0].permute({2, 0, 1}).reshape({-1}); }, {x}));
  }
  SECTION("permute") {
    CHECK(tg::gradcheck([](const Inputs& in) { return in[0].permute({1, 2, 0}); }, {x}));
  }
  SECTION("transpose") {
    CHECK(tg::gradcheck([](const Inputs& in) { return in[0].transpose(0, -1); }, {x}));
  }
  SECTION("t") {
    CHECK(tg::gradcheck([](const Inputs& in) { return in[0].t(); }, {any64({3, 2}, 191)}));
  }
  SECTION("unsqueeze") {
    CHECK(tg::gradcheck([](const Inputs& in) { return in[0].unsqueeze(1); }, {x}));
    CHECK(tg::gradcheck([](const Inputs& in) { return in[0].unsqueeze(-1); }, {x}));
  }
  SECTION("squeeze all and squeeze(dim)") {
    const Tensor y = any64({2, 1, 3, 1}, 192);
    CHECK(tg::gradcheck([](const Inputs& in) { return in[0].squeeze(); }, {y}));
    CHECK(tg::gradcheck([](const Inputs& in) { return in[0].squeeze(1); }, {y}));
    CHECK(tg::gradcheck([](const Inputs& in) { return in[0].squeeze(-1); }, {y}));
    CHECK(tg::gradcheck([](const Inputs& in) { return in[0].squeeze(0); }, {y}));  // size 2: unchanged
  }
  SECTION("expand") {
    CHECK(tg::gradcheck([](const Inputs& in) { return in[0].expand({2, 3, 4}); }, {any64({3, 1}, 193)}));
    CHECK(tg::gradcheck([](const Inputs& in) { return in[0].expand({-1, 5}) * in[0]; }, {any64({3, 1}, 194)}));
  }
  SECTION("slice with step 2 and a negative start") {
    CHECK(tg::gradcheck([](const Inputs& in) { return in[0].slice(2, -4, 4, 2); }, {x}));
    CHECK(tg::gradcheck([](const Inputs& in) { return in[0].slice(0, 1, 7, 2); }, {any64({7, 2}, 195)}));
  }
  SECTION("select") {
    CHECK(tg::gradcheck([](const Inputs& in) { return in[0].select(1, -1); }, {x}));
    CHECK(tg::gradcheck([](const Inputs& in) { return in[0].select(0, 1) * in[0].select(0, 0); }, {x}));
  }
  SECTION("contiguous of a transposed tensor") {
    CHECK(tg::gradcheck([](const Inputs& in) { return in[0].transpose(0, 1).contiguous(); }, {x}));
  }
  SECTION("clone") {
    CHECK(tg::gradcheck([](const Inputs& in) { return in[0].clone() * in[0]; }, {x}));
  }
}

TEST_CASE("overlapping slices accumulate their gradients into the base", "[grad][views]") {
  const Tensor x = leaf64({1, 2, 3, 4, 5});
  (x.slice(0, 0, 3) + x.slice(0, 2, 5) * 2.0 + x.slice(0, -5, 5, 2) * 10.0).sum().backward();
  // slice(0,3)->[0,1,2]; slice(2,5)->[2,3,4] x2; step-2 slice->[0,2,4] x10.
  CHECK(values(x.grad()) == std::vector<double>{11, 1, 13, 2, 12});
}

TEST_CASE("view of a non-contiguous tensor points to reshape", "[bad_input][views]") {
  const Tensor x = tg::ones({2, 3}).t();
  CHECK_TG_ERROR(x.view({6}), StartsWith("view: shape [6] is not compatible with the strides [1, 3] of the input "
                                         "of shape [3, 2]") &&
                                  Contains("use reshape()"));
  CHECK_NOTHROW(x.reshape({6}));
}

TEST_CASE("view and reshape to a shape with another number of elements name both", "[bad_input][views]") {
  const Tensor x = tg::ones({2, 3});
  CHECK_TG_ERROR(x.view({4, 2}), Equals("view: shape [4, 2] is invalid for input of size 6"));
  CHECK_TG_ERROR(x.reshape({5}), Equals("reshape: shape [5] is invalid for input of size 6"));
  CHECK_TG_ERROR(x.view({-1, 4}), Equals("view: shape [-1, 4] is invalid for input of size 6"));
  CHECK_TG_ERROR(x.reshape({0, -1}), Contains("reshape: shape [0, -1] is invalid for input of size 6"));
  CHECK_TG_ERROR(x.view({-2, 3}), Contains("view: invalid size -2 in shape [-2, 3]"));
}

TEST_CASE("two -1 in a shape is an error naming the shape", "[bad_input][views]") {
  const Tensor x = tg::ones({2, 3});
  CHECK_TG_ERROR(x.view({-1, -1}), Equals("view: only one dimension can be inferred (-1) in shape [-1, -1]"));
  CHECK_TG_ERROR(x.reshape({-1, 3, -1}),
                 Contains("reshape: only one dimension can be inferred") && Contains("[-1, 3, -1]"));
}

TEST_CASE("expand to an incompatible shape names the dim and both shapes", "[bad_input][views]") {
  const Tensor x = tg::ones({3, 2});
  CHECK_TG_ERROR(
      x.expand({3, 4}),
      Equals("expand: the size of dim 1 (2) must match the requested size 4 or be 1 (shape [3, 2] to [3, 4])"));
  CHECK_TG_ERROR(x.expand({4}),
                 Contains("expand: the requested shape [4] has fewer dims than the tensor's shape [3, 2]"));
  CHECK_TG_ERROR(x.expand({-1, 3, 2}), Contains("expand") && Contains("-1") && Contains("[-1, 3, 2]"));
}

TEST_CASE("permute with a repeated dim or the wrong number of dims names them", "[bad_input][views]") {
  const Tensor x = tg::ones({2, 3, 4});
  CHECK_TG_ERROR(x.permute({0, 0, 1}), Equals("permute: dim 0 appears twice in [0, 0, 1]"));
  CHECK_TG_ERROR(x.permute({2, -1, 0}), Equals("permute: dim 2 appears twice in [2, -1, 0]"));
  CHECK_TG_ERROR(x.permute({0, 1}), Equals("permute: expected 3 dims for a tensor of shape [2, 3, 4], got [0, 1]"));
}

TEST_CASE("slice with a step of 0 or below is an error naming the step", "[bad_input][views]") {
  const Tensor x = tg::ones({5});
  CHECK_TG_ERROR(x.slice(0, 0, 5, 0), Equals("slice: step must be positive, got 0"));
  CHECK_TG_ERROR(x.slice(0, 0, 5, -1), Equals("slice: step must be positive, got -1"));
  CHECK_TG_ERROR(tg::scalar_tensor(1.0).slice(0, 0, 1), Contains("slice: cannot slice a 0-d tensor"));
}

TEST_CASE("select with an index out of range names the index, dim and size", "[bad_input][views]") {
  const Tensor x = tg::ones({2, 3});
  CHECK_TG_ERROR(x.select(1, 3), Equals("select: index 3 is out of range for dim 1 of size 3"));
  CHECK_TG_ERROR(x.select(0, -3), Equals("select: index -3 is out of range for dim 0 of size 2"));
  CHECK_TG_ERROR(tg::scalar_tensor(1.0).select(0, 0), Contains("select: cannot select from a 0-d tensor"));
}

TEST_CASE("t() of a tensor with more than 2 dims names its shape", "[bad_input][views]") {
  CHECK_TG_ERROR(tg::ones({2, 3, 4}).t(), Equals("t: expects a tensor of at most 2 dims, got shape [2, 3, 4]"));
}

TEST_CASE("more than 12 dims is an error", "[bad_input][views]") {
  CHECK_TG_ERROR(tg::ones({1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}),
                 Contains("at most 12 dimensions are supported") && Contains("13"));
  CHECK_TG_ERROR(tg::ones({1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}).unsqueeze(0), Contains("at most 12 dimensions"));
}
