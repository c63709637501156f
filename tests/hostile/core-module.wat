;; A core WebAssembly module: valid wasm, but not a component. The host must
;; refuse it with a message that says so and how to build a component.
(module
  (func (export "run") (result i32)
    i32.const 42))
