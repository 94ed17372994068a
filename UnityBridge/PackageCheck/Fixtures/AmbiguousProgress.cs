// A FIXTURE THAT MUST NOT COMPILE: it names Progress with both EDiffI.Bridge.Protocol and UnityEditor
// imported, as the window once did. Unity 2021.3 reports CS0104 (UnityEditor.Progress exists since
// 2020.1); the package check must report it too, or it is not checking what Unity checks.
using EDiffI.Bridge.Protocol;
using UnityEditor;

namespace EDiffI.Bridge.Unity.Editor.Fixtures
{
    internal static class AmbiguousProgress
    {
        internal static float Fraction(Progress p) => p.Steps > 0 ? (p.Step + 1f) / p.Steps : 0f;
    }
}
