// Read by Doxygen only (docs/Doxyfile), never compiled: the public headers specialize
// fmt::formatter for tapegrad's types outside namespace fmt (`struct fmt::formatter<tg::Tensor>`),
// and Doxygen needs the primary template to place those specializations.
namespace fmt {

/// fmt's formatter (from <fmt/format.h>). tapegrad specializes it so that fmt::format and
/// fmt::print take a tg::Tensor, a tg::DimVec, a tg::IntArrayRef, tg::Sizes and tg::Strides.
template <typename T, typename Char = char, typename Enable = void>
struct formatter;

}  // namespace fmt
