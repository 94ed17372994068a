// STAND-IN, NOT UNITY: declarations only (see UnityStandIn.csproj). Each member mirrors the
// signature in Unity's scripting reference (docs.unity3d.com/ScriptReference); no body does anything.
#nullable disable
using System;
using UnityEngine;

namespace UnityEditor
{
    public class EditorWindow : ScriptableObject
    {
        public static T GetWindow<T>(string title) where T : EditorWindow => throw StandIn.Fail();
        public void Repaint() => throw StandIn.Fail();
    }

    [AttributeUsage(AttributeTargets.Method, AllowMultiple = true)]
    public sealed class MenuItem : Attribute
    {
        public MenuItem(string itemName) { }
    }

    public sealed class EditorApplication
    {
        public delegate void CallbackFunction();
        public static CallbackFunction update;
    }

    public enum MessageType { None = 0, Info = 1, Warning = 2, Error = 3 }

    public sealed class EditorGUILayout
    {
        public static void LabelField(string label, params GUILayoutOption[] options) => throw StandIn.Fail();
        public static string TextArea(string text, params GUILayoutOption[] options) => throw StandIn.Fail();
        public static string TextField(string label, string text, params GUILayoutOption[] options) => throw StandIn.Fail();
        public static bool Toggle(string label, bool value, params GUILayoutOption[] options) => throw StandIn.Fail();
        public static int IntField(string label, int value, params GUILayoutOption[] options) => throw StandIn.Fail();
        public static float FloatField(string label, float value, params GUILayoutOption[] options) => throw StandIn.Fail();
        public static int Popup(string label, int selectedIndex, string[] displayedOptions, params GUILayoutOption[] options) => throw StandIn.Fail();
        public static UnityEngine.Object ObjectField(string label, UnityEngine.Object obj, Type objType, bool allowSceneObjects, params GUILayoutOption[] options) => throw StandIn.Fail();
        public static Color ColorField(Color value, params GUILayoutOption[] options) => throw StandIn.Fail();
        public static void HelpBox(string message, MessageType type) => throw StandIn.Fail();
    }

    public sealed class EditorGUI
    {
        public static void ProgressBar(Rect position, float value, string text) => throw StandIn.Fail();
    }

    public sealed class EditorPrefs
    {
        public static string GetString(string key, string defaultValue) => throw StandIn.Fail();
        public static void SetString(string key, string value) => throw StandIn.Fail();
    }

    public enum ImportAssetOptions { Default = 0 }

    public sealed class AssetDatabase
    {
        public static void ImportAsset(string path, ImportAssetOptions options = ImportAssetOptions.Default) => throw StandIn.Fail();
    }

    public class AssetImporter : UnityEngine.Object
    {
        public static AssetImporter GetAtPath(string path) => throw StandIn.Fail();
        public void SaveAndReimport() => throw StandIn.Fail();
    }

    public sealed class TextureImporter : AssetImporter
    {
        public bool sRGBTexture { get => throw StandIn.Fail(); set => throw StandIn.Fail(); }
        public bool mipmapEnabled { get => throw StandIn.Fail(); set => throw StandIn.Fail(); }
        public TextureWrapMode wrapMode { get => throw StandIn.Fail(); set => throw StandIn.Fail(); }
    }
}
