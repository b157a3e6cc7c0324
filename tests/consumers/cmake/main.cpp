// A C++ program that finds wlra with CMake (find_package(wlra 1.0)) and links
// wlra::wlra or wlra::wlra_static. It fits a planted 80 x 60 rank-3 problem
// with weights in [0.1, 1] and exits non-zero unless
// ||U V^T - truth|| / ||truth|| <= 1e-8.
#include <wlra.h>

#include <cmath>
#include <cstdio>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

// The model handle, freed by wlra_destroy however the scope is left.
using Model = std::unique_ptr<wlra_model, decltype(&wlra_destroy)>;

void check(wlra_status status, const char *what, const wlra_model *model) {
    if (status != WLRA_OK)
        throw std::runtime_error(std::string(what) + ": " + wlra_status_message(status) +
                                 " (" + wlra_last_error(model) + ")");
}

// Row-major n x k, Gaussian entries from a fixed seed.
std::vector<double> gaussian(std::size_t n, std::size_t k, std::mt19937_64 &rng) {
    std::normal_distribution<double> normal;
    std::vector<double> x(n * k);
    for (double &e : x) e = normal(rng);
    return x;
}

// Row-major n x m product A B^T of row-major n x k and m x k factors.
std::vector<double> product(const std::vector<double> &a, const std::vector<double> &b,
                            std::size_t n, std::size_t m, std::size_t k) {
    std::vector<double> c(n * m, 0.0);
    for (std::size_t i = 0; i < n; i++)
        for (std::size_t j = 0; j < m; j++)
            for (std::size_t d = 0; d < k; d++) c[i * m + j] += a[i * k + d] * b[j * k + d];
    return c;
}

}  // namespace

int main() try {
    const std::size_t n = 80, m = 60, k = 3;
    std::mt19937_64 rng(7);
    const std::vector<double> truth = product(gaussian(n, k, rng), gaussian(m, k, rng), n, m, k);
    std::uniform_real_distribution<double> weight(0.1, 1.0);
    std::vector<double> w(n * m);
    for (double &e : w) e = weight(rng);

    wlra_model *raw = nullptr;
    check(wlra_create(k, &raw), "wlra_create", nullptr);
    Model model(raw, &wlra_destroy);
    check(wlra_set_option(model.get(), WLRA_OPTION_TOLERANCE, 1e-14), "tolerance", model.get());
    check(wlra_set_option(model.get(), WLRA_OPTION_MAX_ITERATIONS, 500), "iterations", model.get());
    check(wlra_fit(model.get(), n, m, truth.data(), m, w.data(), m, WLRA_ROW_MAJOR), "wlra_fit",
          model.get());
    std::vector<double> u(n * k), v(m * k);
    check(wlra_get_factors(model.get(), u.data(), k, v.data(), k, WLRA_ROW_MAJOR),
          "wlra_get_factors", model.get());

    const std::vector<double> fit = product(u, v, n, m, k);
    double num = 0.0, den = 0.0;
    for (std::size_t i = 0; i < n * m; i++) {
        num += (fit[i] - truth[i]) * (fit[i] - truth[i]);
        den += truth[i] * truth[i];
    }
    const double err = std::sqrt(num / den);
    std::printf("wlra %s from C++: %zux%zu rank %zu, relative error %.3g\n", wlra_version(), n, m,
                k, err);
    return err <= 1e-8 ? 0 : 1;
} catch (const std::exception &e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
}
