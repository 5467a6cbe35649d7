// Optimizer::load_state_dict checks the whole state before writing any of it: every key the
// optimizer's update reads (state_keys(), per optimizer and options) is present, of the
// parameter's shape and a floating dtype; "step" is one finite whole number >= 0. The error names
// the optimizer, the parameter index and the key; after an error the optimizer is unchanged.
#include "support/prelude.h"
#include "tapegrad/tapegrad.h"

using namespace tg::optim;
using Keys = std::vector<std::string>;

namespace {

/// Two float64 parameters [2] and [3] with gradients 2 * p.
struct TwoParams {
  Tensor a = tg::tensor({1.0, 2.0}, tg::kFloat64).requires_grad_();
  Tensor b = tg::tensor({3.0, 4.0, 5.0}, tg::kFloat64).requires_grad_();
  void backward() const { ((a * a).sum() + (b * b).sum()).backward(); }
};

/// The state with one entry's tensor under key replaced (or removed when value is undefined).
OptimizerState with_entry(OptimizerState s, std::int64_t param, const std::string& key, const Tensor& value) {
  for (auto& e : s.state) {
    if (e.param != param) continue;
    std::vector<std::pair<std::string, Tensor>> kept;
    bool replaced = false;
    for (auto& [name, t] : e.tensors) {
      if (name != key) {
        kept.emplace_back(name, t);
      } else if (value.defined()) {
        kept.emplace_back(name, value);
        replaced = true;
      }
    }
    if (!replaced && value.defined()) kept.emplace_back(key, value);
    e.tensors = kept;
  }
  return s;
}

std::vector<double> state_values(const Optimizer& opt, std::int64_t param, const std::string& key) {
  return opt.state(param).find(key).to_vector<double>();
}

}  // namespace

TEST_CASE("state_keys lists the state each optimizer keeps, per its options", "[optim][optim_state]") {
  TwoParams p;
  CHECK(Adam({p.a}).state_keys() == Keys{"step", "exp_avg", "exp_avg_sq"});
  CHECK(Adam({p.a}, AdamOptions().amsgrad(true)).state_keys() ==
        Keys{"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"});
  CHECK(AdamW({p.a}).state_keys() == Keys{"step", "exp_avg", "exp_avg_sq"});
  CHECK(SGD({p.a}, SGDOptions(0.1)).state_keys().empty());
  CHECK(SGD({p.a}, SGDOptions(0.1).momentum(0.9)).state_keys() == Keys{"momentum_buffer"});
  CHECK(RMSprop({p.a}).state_keys() == Keys{"step", "square_avg"});
  CHECK(RMSprop({p.a}, RMSpropOptions().momentum(0.5).centered(true)).state_keys() ==
        Keys{"step", "square_avg", "momentum_buffer", "grad_avg"});
  CHECK(Adagrad({p.a}).state_keys() == Keys{"step", "sum"});
  // By options: what a group with amsgrad needs, from an optimizer whose defaults have none.
  const Adam adam({p.a});
  CHECK(adam.state_keys(AdamOptions().amsgrad(true)).back() == "max_exp_avg_sq");
  CHECK_THAT(error_of([&] { adam.state_keys(SGDOptions(0.1)); }),
             Contains("Adam.state_keys: options of type SGDOptions, expected AdamOptions"));
  // What a step leaves is exactly what state_keys() says.
  Adam stepped({p.a}, AdamOptions().amsgrad(true));
  p.backward();
  stepped.step();
  Keys have;
  for (const auto& [name, t] : stepped.state(0).entries()) have.push_back(name);
  CHECK(have == stepped.state_keys());
}

TEST_CASE("Adam.load_state_dict rejects a state without exp_avg, naming the parameter and the key",
          "[optim][optim_state]") {
  TwoParams p;
  Adam adam({p.a, p.b}, AdamOptions(0.1));
  p.backward();
  adam.step();
  const OptimizerState good = adam.state_dict();
  const std::vector<double> exp_avg_before = state_values(adam, 1, "exp_avg");

  const OptimizerState no_exp_avg = with_entry(good, 1, "exp_avg", Tensor());
  CHECK_THAT(error_of([&] { adam.load_state_dict(no_exp_avg); }),
             Contains("Adam.load_state_dict: the state of parameter 1 (shape [3]) has no 'exp_avg'") &&
                 Contains("it has: step, exp_avg_sq") && Contains("Adam needs: step, exp_avg, exp_avg_sq"));
  CHECK(state_values(adam, 1, "exp_avg") == exp_avg_before);  // unchanged
  CHECK(adam.state(0).find("exp_avg").defined());

  // An entry with nothing in it is a state without every key.
  OptimizerState empty_entry = good;
  empty_entry.state[0].tensors.clear();
  CHECK_THAT(error_of([&] { adam.load_state_dict(empty_entry); }),
             Contains("parameter 0 (shape [2]) has no 'step' (it has: nothing"));

  // amsgrad loaded from the state's options needs max_exp_avg_sq.
  OptimizerState amsgrad = good;
  amsgrad.groups[0].options["amsgrad"] = 1;
  CHECK_THAT(error_of([&] { adam.load_state_dict(amsgrad); }),
             Contains("Adam.load_state_dict: the state of parameter 0 (shape [2]) has no 'max_exp_avg_sq'"));
  CHECK_FALSE(adam.param_groups()[0].options_as<AdamOptions>().amsgrad());
}

TEST_CASE("load_state_dict rejects a step that is NaN, infinite, negative or fractional", "[optim][optim_state]") {
  TwoParams p;
  AdamW adamw({p.a, p.b}, AdamWOptions(0.1));
  p.backward();
  adamw.step();
  const OptimizerState good = adamw.state_dict();
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  struct Case {
    double step;
    const char* shown;
  };
  for (const Case& c : {Case{nan, "is nan"}, Case{inf, "is inf"}, Case{-1.0, "is -1"}, Case{2.5, "is 2.5"}}) {
    CAPTURE(c.step);
    const OptimizerState bad = with_entry(good, 1, "step", tg::full({}, c.step, tg::kFloat64));
    CHECK_THAT(error_of([&] { adamw.load_state_dict(bad); }),
               Contains("AdamW.load_state_dict: 'step' of parameter 1") && Contains(c.shown) &&
                   Contains("expected a finite whole number >= 0"));
    CHECK(adamw.state(1).find("step").item() == 1.0);
  }
  // A float32 or int64 whole step is fine, kept as float64.
  adamw.load_state_dict(with_entry(good, 1, "step", tg::full({}, 41.0, tg::kFloat32)));
  CHECK(adamw.state(1).find("step").item() == 41.0);
  CHECK(adamw.state(1).find("step").dtype() == tg::kFloat64);
  adamw.load_state_dict(with_entry(good, 0, "step", tg::full({1}, 0, tg::kInt64)));
  CHECK(adamw.state(0).find("step").item() == 0.0);
  CHECK(adamw.state(0).find("step").dim() == 0);
}

TEST_CASE("load_state_dict rejects a state tensor of a non-floating dtype", "[optim][optim_state]") {
  TwoParams p;
  Adam adam({p.a, p.b});
  p.backward();
  adam.step();
  const OptimizerState bad = with_entry(adam.state_dict(), 0, "exp_avg_sq", tg::zeros({2}, tg::kInt64));
  CHECK_THAT(
      error_of([&] { adam.load_state_dict(bad); }),
      Contains("Adam.load_state_dict: state 'exp_avg_sq' of parameter 0 has dtype int64") && Contains("float64"));
}

TEST_CASE("load_state_dict is all or nothing: an error in the last parameter leaves the first as it was",
          "[optim][optim_state]") {
  TwoParams p;
  SGD sgd({p.a, p.b}, SGDOptions(0.1).momentum(0.9));
  p.backward();
  sgd.step();
  const std::vector<double> buf0 = state_values(sgd, 0, "momentum_buffer");
  CHECK(buf0 == std::vector<double>{2.0, 4.0});  // the first d, 2 * a

  OptimizerState changed = with_entry(sgd.state_dict(), 0, "momentum_buffer", tg::full({2}, 9.0, tg::kFloat64));
  changed = with_entry(changed, 1, "momentum_buffer", Tensor());
  changed.groups[0].options["lr"] = 0.5;
  CHECK_THAT(error_of([&] { sgd.load_state_dict(changed); }),
             Contains("SGD.load_state_dict: the state of parameter 1 (shape [3]) has no 'momentum_buffer'"));
  CHECK(state_values(sgd, 0, "momentum_buffer") == buf0);
  CHECK(sgd.param_groups()[0].lr() == 0.1);

  // Without momentum SGD keeps no state: an empty entry is fine.
  SGD plain({p.a, p.b}, SGDOptions(0.1));
  OptimizerState none = plain.state_dict();
  none.state.push_back(OptimizerState::Entry{0, {}});
  plain.load_state_dict(none);
  CHECK(plain.state(0).empty());
}

TEST_CASE("RMSprop and Adagrad require their accumulators", "[optim][optim_state]") {
  TwoParams p;
  RMSprop rms({p.a, p.b}, RMSpropOptions(0.01).centered(true));
  Adagrad ada({p.a, p.b});
  p.backward();
  rms.step();
  ada.step();
  CHECK_THAT(error_of([&] { rms.load_state_dict(with_entry(rms.state_dict(), 0, "grad_avg", Tensor())); }),
             Contains("RMSprop.load_state_dict: the state of parameter 0 (shape [2]) has no 'grad_avg'"));
  CHECK_THAT(error_of([&] { ada.load_state_dict(with_entry(ada.state_dict(), 1, "sum", Tensor())); }),
             Contains("Adagrad.load_state_dict: the state of parameter 1 (shape [3]) has no 'sum'"));
  // A complete state still round-trips.
  const std::vector<double> sum1 = state_values(ada, 1, "sum");
  ada.load_state_dict(ada.state_dict());
  CHECK(state_values(ada, 1, "sum") == sum1);
}
