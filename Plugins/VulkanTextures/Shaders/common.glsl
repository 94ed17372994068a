// Shared by the texture shaders: addressing and the sRGB transfer functions, the same formulas as
// Abstractions/Textures/TextureMath.cs (the CPU reference the tests compare against).

int addressTap(int i, int n, bool wrap) { return wrap ? ((i % n) + n) % n : clamp(i, 0, n - 1); }

// IEC 61966-2-1.
float srgbToLinear(float c) { return c <= 0.04045 ? c / 12.92 : pow((c + 0.055) / 1.055, 2.4); }
float linearToSrgb(float l) { l = clamp(l, 0.0, 1.0); return l <= 0.0031308 ? l * 12.92 : 1.055 * pow(l, 1.0 / 2.4) - 0.055; }
