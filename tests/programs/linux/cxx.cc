// Dynamically linked C++: libstdc++ and libgcc_s from the sysroot, exceptions thrown through
// several frames and across a shared library, RTTI, iostreams, containers and algorithms.
#include <algorithm>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

struct Shape {
    virtual ~Shape() = default;
    virtual long area() const = 0;
};
struct Square : Shape {
    long side;
    explicit Square(long s) : side(s) {}
    long area() const override { return side * side; }
};
struct Circle : Shape {
    long r;
    explicit Circle(long radius) : r(radius) {}
    long area() const override { return 3 * r * r; }
};

static int depth(int n) {
    if (n == 0) throw std::out_of_range("bottom reached");
    return depth(n - 1) + 1;
}

int main() {
    int failures = 0;
    try {
        depth(50);
    } catch (const std::logic_error &e) {
        std::cout << "caught logic_error: " << e.what() << "\n";
    }
    try {
        std::vector<int> v(3);
        (void)v.at(10);
    } catch (const std::out_of_range &) {
        std::cout << "vector::at threw out_of_range\n";
    }
    try {
        throw 42;
    } catch (int x) {
        std::cout << "caught int " << x << "\n";
    }
    std::vector<std::unique_ptr<Shape>> shapes;
    shapes.push_back(std::make_unique<Square>(2));
    shapes.push_back(std::make_unique<Circle>(1));
    long total = 0;
    for (const auto &s : shapes) total += s->area();
    if (dynamic_cast<Circle *>(shapes[1].get()) == nullptr) failures++;
    std::cout << "total area " << total << "\n";
    std::map<std::string, int> counts;
    std::istringstream words("the quick brown fox jumps over the lazy dog the end");
    for (std::string w; words >> w;) counts[w]++;
    std::cout << "the: " << counts["the"] << ", distinct: " << counts.size() << "\n";
    std::vector<int> numbers{5, 3, 9, 1, 7};
    std::sort(numbers.begin(), numbers.end());
    for (int n : numbers) std::cout << n << ' ';
    std::cout << std::endl;
    std::cerr << "to stderr" << std::endl;
    return failures;
}
