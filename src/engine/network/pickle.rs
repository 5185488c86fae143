//! A reader for the pickles PyTorch writes for a state dict, which never runs them: it knows the
//! handful of opcodes such a pickle uses and accepts only the globals that build tensors and
//! plain containers. Anything else (a class of the user's own, `os.system`) is refused by name,
//! so opening a hostile `.pth` file cannot execute code.

use std::collections::HashMap;

/// A value a state-dict pickle can hold.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    None,
    Bool(bool),
    Int(i64),
    /// An integer wider than 64 bits, as its little-endian two's-complement bytes.
    BigInt(Vec<u8>),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    List(Vec<Value>),
    Tuple(Vec<Value>),
    Dict(Vec<(Value, Value)>),
    /// A global the pickle named (module, name); only the allowed ones appear.
    Global(String, String),
    /// A reference to tensor data stored outside the pickle (`persistent_load`).
    Storage(StorageRef),
    /// `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ..)`.
    Tensor(TensorRef),
}

/// Where a storage's bytes are and what they hold.
#[derive(Clone, Debug, PartialEq)]
pub struct StorageRef {
    /// The storage class's name, e.g. "FloatStorage".
    pub dtype: String,
    /// Its key: the file name inside a zip archive, or the key of the legacy format's list.
    pub key: String,
    /// The number of elements as the pickle states it.
    pub numel: i64,
}

/// A tensor as a view of a storage.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorRef {
    pub storage: StorageRef,
    pub offset: i64,
    pub size: Vec<i64>,
    pub stride: Vec<i64>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PickleError {
    #[error("the pickle ends early")]
    Truncated,
    #[error("the pickle uses opcode 0x{0:02x}, which a state dict never needs")]
    UnknownOpcode(u8),
    #[error("the pickle calls {0}, which is not a tensor or a plain container; it is not read, so it cannot run")]
    ForbiddenGlobal(String),
    #[error("the pickle is malformed: {0}")]
    Malformed(&'static str),
    #[error("the pickle is larger than a state dict can be ({0})")]
    TooLarge(&'static str),
}

/// Globals a state dict may name: containers and tensor rebuilders. Each is interpreted here,
/// never looked up in Python.
fn allowed_global(module: &str, name: &str) -> bool {
    match module {
        "collections" => name == "OrderedDict",
        "torch._utils" => matches!(name, "_rebuild_tensor_v2" | "_rebuild_parameter" | "_rebuild_tensor"),
        "torch" => name.ends_with("Storage"),
        "builtins" | "__builtin__" => matches!(name, "set" | "frozenset" | "dict" | "list" | "tuple"),
        _ => false,
    }
}

/// Bounds that keep a crafted pickle from taking unbounded memory or time.
const MAX_STACK: usize = 1 << 20;
const MAX_MEMO: usize = 1 << 22;
const MAX_DIMS: usize = 16;

/// Reads one pickle from the start of `bytes`; returns the value and the bytes it used.
/// `persistent` turns a persistent id (the tuple PyTorch writes for a storage) into a value.
pub fn read_pickle(bytes: &[u8], persistent: &dyn Fn(Value) -> Result<Value, PickleError>) -> Result<(Value, usize), PickleError> {
    let mut machine = Machine { bytes, at: 0, stack: Vec::new(), marks: Vec::new(), memo: HashMap::new() };
    let value = machine.run(persistent)?;
    Ok((value, machine.at))
}

struct Machine<'a> {
    bytes: &'a [u8],
    at: usize,
    stack: Vec<Value>,
    marks: Vec<usize>,
    memo: HashMap<u32, Value>,
}

impl Machine<'_> {
    fn take(&mut self, count: usize) -> Result<&[u8], PickleError> {
        let end = self.at.checked_add(count).filter(|&end| end <= self.bytes.len()).ok_or(PickleError::Truncated)?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }

    fn byte(&mut self) -> Result<u8, PickleError> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, PickleError> {
        Ok(u16::from_le_bytes(self.take(2)?.try_into().expect("two bytes")))
    }

    fn u32(&mut self) -> Result<u32, PickleError> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("four bytes")))
    }

    fn line(&mut self) -> Result<String, PickleError> {
        let rest = &self.bytes[self.at..];
        let end = rest.iter().position(|&b| b == b'\n').ok_or(PickleError::Truncated)?;
        let text = String::from_utf8(rest[..end].to_vec()).map_err(|_| PickleError::Malformed("a name is not UTF-8"))?;
        self.at += end + 1;
        Ok(text)
    }

    fn text(&mut self, len: usize) -> Result<String, PickleError> {
        String::from_utf8(self.take(len)?.to_vec()).map_err(|_| PickleError::Malformed("a string is not UTF-8"))
    }

    fn push(&mut self, value: Value) -> Result<(), PickleError> {
        if self.stack.len() >= MAX_STACK {
            return Err(PickleError::TooLarge("stack"));
        }
        self.stack.push(value);
        Ok(())
    }

    fn pop(&mut self) -> Result<Value, PickleError> {
        if self.marks.last().is_some_and(|&mark| mark >= self.stack.len()) {
            return Err(PickleError::Malformed("pop below a mark"));
        }
        self.stack.pop().ok_or(PickleError::Malformed("pop from an empty stack"))
    }

    fn top(&mut self) -> Result<&mut Value, PickleError> {
        self.stack.last_mut().ok_or(PickleError::Malformed("no value on the stack"))
    }

    fn pop_mark(&mut self) -> Result<Vec<Value>, PickleError> {
        let mark = self.marks.pop().ok_or(PickleError::Malformed("no mark"))?;
        if mark > self.stack.len() {
            return Err(PickleError::Malformed("mark above the stack"));
        }
        Ok(self.stack.split_off(mark))
    }

    fn memoise(&mut self, key: u32) -> Result<(), PickleError> {
        if self.memo.len() >= MAX_MEMO {
            return Err(PickleError::TooLarge("memo"));
        }
        let value = self.stack.last().ok_or(PickleError::Malformed("memo of an empty stack"))?.clone();
        self.memo.insert(key, value);
        Ok(())
    }

    fn recall(&mut self, key: u32) -> Result<(), PickleError> {
        let value = self.memo.get(&key).cloned().ok_or(PickleError::Malformed("a memo key that was never stored"))?;
        self.push(value)
    }

    fn run(&mut self, persistent: &dyn Fn(Value) -> Result<Value, PickleError>) -> Result<Value, PickleError> {
        loop {
            let opcode = self.byte()?;
            match opcode {
                0x80 => {
                    self.byte()?; // PROTO n
                }
                0x95 => {
                    self.take(8)?; // FRAME length: frames are read as one stream
                }
                b'.' => return self.pop(),
                b'(' => self.marks.push(self.stack.len()),
                b'}' => self.push(Value::Dict(Vec::new()))?,
                b']' => self.push(Value::List(Vec::new()))?,
                b')' => self.push(Value::Tuple(Vec::new()))?,
                0x8f => self.push(Value::List(Vec::new()))?, // EMPTY_SET, kept as a list
                b't' => {
                    let items = self.pop_mark()?;
                    self.push(Value::Tuple(items))?
                }
                b'l' => {
                    let items = self.pop_mark()?;
                    self.push(Value::List(items))?
                }
                b'd' => {
                    let items = self.pop_mark()?;
                    let pairs = pairs_of(items)?;
                    self.push(Value::Dict(pairs))?
                }
                0x85..=0x87 => {
                    let count = (opcode - 0x84) as usize;
                    if self.stack.len() < count {
                        return Err(PickleError::Malformed("a tuple of missing items"));
                    }
                    let mut items = Vec::with_capacity(count);
                    for _ in 0..count {
                        items.push(self.pop()?);
                    }
                    items.reverse();
                    self.push(Value::Tuple(items))?
                }
                b'N' => self.push(Value::None)?,
                0x88 => self.push(Value::Bool(true))?,
                0x89 => self.push(Value::Bool(false))?,
                b'J' => {
                    let value = i32::from_le_bytes(self.take(4)?.try_into().expect("four bytes"));
                    self.push(Value::Int(value as i64))?
                }
                b'K' => {
                    let value = self.byte()?;
                    self.push(Value::Int(value as i64))?
                }
                b'M' => {
                    let value = self.u16()?;
                    self.push(Value::Int(value as i64))?
                }
                0x8a => {
                    // LONG1: a little-endian two's-complement integer of n bytes
                    let len = self.byte()? as usize;
                    let digits = self.take(len)?.to_vec();
                    if len > 8 {
                        self.push(Value::BigInt(digits))?;
                        continue;
                    }
                    let mut value: i64 = 0;
                    for (i, &b) in digits.iter().enumerate() {
                        value |= (b as i64) << (8 * i);
                    }
                    if len > 0 && len < 8 && digits[len - 1] & 0x80 != 0 {
                        value -= 1i64 << (8 * len);
                    }
                    self.push(Value::Int(value))?
                }
                b'G' => {
                    let value = f64::from_be_bytes(self.take(8)?.try_into().expect("eight bytes"));
                    self.push(Value::Float(value))?
                }
                b'X' => {
                    let len = self.u32()? as usize;
                    let text = self.text(len)?;
                    self.push(Value::Str(text))?
                }
                0x8c => {
                    let len = self.byte()? as usize;
                    let text = self.text(len)?;
                    self.push(Value::Str(text))?
                }
                b'T' | b'B' => {
                    let len = self.u32()? as usize;
                    let bytes = self.take(len)?.to_vec();
                    self.push(binary(opcode, bytes))?
                }
                b'U' | b'C' => {
                    let len = self.byte()? as usize;
                    let bytes = self.take(len)?.to_vec();
                    self.push(binary(opcode, bytes))?
                }
                b'q' => {
                    let key = self.byte()? as u32;
                    self.memoise(key)?
                }
                b'r' => {
                    let key = self.u32()?;
                    self.memoise(key)?
                }
                0x94 => {
                    let key = self.memo.len() as u32;
                    self.memoise(key)?
                }
                b'h' => {
                    let key = self.byte()? as u32;
                    self.recall(key)?
                }
                b'j' => {
                    let key = self.u32()?;
                    self.recall(key)?
                }
                b'c' => {
                    let module = self.line()?;
                    let name = self.line()?;
                    self.push(global(module, name)?)?
                }
                0x93 => {
                    let name = self.pop()?;
                    let module = self.pop()?;
                    let (Value::Str(module), Value::Str(name)) = (module, name) else {
                        return Err(PickleError::Malformed("a global named by something other than text"));
                    };
                    self.push(global(module, name)?)?
                }
                b'Q' => {
                    let id = self.pop()?;
                    let value = persistent(id)?;
                    self.push(value)?
                }
                b'R' | 0x81 => {
                    let args = self.pop()?;
                    let callable = self.pop()?;
                    let value = call(callable, args)?;
                    self.push(value)?
                }
                b'b' => {
                    // BUILD: an object's state (an OrderedDict's `_metadata`); not needed.
                    self.pop()?;
                }
                b's' => {
                    let value = self.pop()?;
                    let key = self.pop()?;
                    match self.top()? {
                        Value::Dict(pairs) => pairs.push((key, value)),
                        _ => return Err(PickleError::Malformed("SETITEM on something other than a dict")),
                    }
                }
                b'u' => {
                    let items = self.pop_mark()?;
                    let new_pairs = pairs_of(items)?;
                    match self.top()? {
                        Value::Dict(pairs) => pairs.extend(new_pairs),
                        _ => return Err(PickleError::Malformed("SETITEMS on something other than a dict")),
                    }
                }
                b'a' => {
                    let value = self.pop()?;
                    match self.top()? {
                        Value::List(items) => items.push(value),
                        _ => return Err(PickleError::Malformed("APPEND to something other than a list")),
                    }
                }
                b'e' | 0x90 => {
                    let new_items = self.pop_mark()?;
                    match self.top()? {
                        Value::List(items) => items.extend(new_items),
                        _ => return Err(PickleError::Malformed("APPENDS to something other than a list")),
                    }
                }
                b'0' => {
                    self.pop()?;
                }
                b'1' => {
                    self.pop_mark()?;
                }
                b'2' => {
                    let value = self.top()?.clone();
                    self.push(value)?
                }
                other => return Err(PickleError::UnknownOpcode(other)),
            }
        }
    }
}

fn binary(opcode: u8, bytes: Vec<u8>) -> Value {
    match opcode {
        // Python 2 strings (BINSTRING, SHORT_BINSTRING) are text in practice.
        b'T' | b'U' => String::from_utf8(bytes).map(Value::Str).unwrap_or_else(|error| Value::Bytes(error.into_bytes())),
        _ => Value::Bytes(bytes),
    }
}

fn pairs_of(items: Vec<Value>) -> Result<Vec<(Value, Value)>, PickleError> {
    if !items.len().is_multiple_of(2) {
        return Err(PickleError::Malformed("a dict with a key and no value"));
    }
    let mut pairs = Vec::with_capacity(items.len() / 2);
    let mut items = items.into_iter();
    while let (Some(key), Some(value)) = (items.next(), items.next()) {
        pairs.push((key, value));
    }
    Ok(pairs)
}

fn global(module: String, name: String) -> Result<Value, PickleError> {
    if allowed_global(&module, &name) {
        Ok(Value::Global(module, name))
    } else {
        Err(PickleError::ForbiddenGlobal(format!("{module}.{name}")))
    }
}

fn int(value: &Value) -> Result<i64, PickleError> {
    match value {
        Value::Int(v) => Ok(*v),
        _ => Err(PickleError::Malformed("a number expected")),
    }
}

fn ints(value: &Value) -> Result<Vec<i64>, PickleError> {
    match value {
        Value::Tuple(items) | Value::List(items) if items.len() <= MAX_DIMS => items.iter().map(int).collect(),
        Value::Tuple(_) | Value::List(_) => Err(PickleError::TooLarge("a tensor of too many dimensions")),
        _ => Err(PickleError::Malformed("a shape expected")),
    }
}

/// Interprets a call of one of the allowed globals.
fn call(callable: Value, args: Value) -> Result<Value, PickleError> {
    let Value::Global(module, name) = callable else {
        return Err(PickleError::Malformed("a call of something that is not a global"));
    };
    let args = match args {
        Value::Tuple(items) | Value::List(items) => items,
        _ => return Err(PickleError::Malformed("call arguments are not a tuple")),
    };
    match (module.as_str(), name.as_str()) {
        ("collections", "OrderedDict") | ("builtins" | "__builtin__", "dict") => match args.into_iter().next() {
            None => Ok(Value::Dict(Vec::new())),
            Some(Value::Dict(pairs)) => Ok(Value::Dict(pairs)),
            Some(Value::List(items)) => items
                .into_iter()
                .map(|item| match item {
                    Value::Tuple(mut pair) if pair.len() == 2 => {
                        let value = pair.pop().expect("two items");
                        Ok((pair.pop().expect("two items"), value))
                    }
                    _ => Err(PickleError::Malformed("a dict built from something other than pairs")),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Dict),
            Some(_) => Err(PickleError::Malformed("a dict built from something other than pairs")),
        },
        ("builtins" | "__builtin__", _) => Ok(Value::List(match args.into_iter().next() {
            Some(Value::List(items)) | Some(Value::Tuple(items)) => items,
            _ => Vec::new(),
        })),
        ("torch._utils", "_rebuild_tensor_v2") | ("torch._utils", "_rebuild_tensor") => {
            if args.len() < 4 {
                return Err(PickleError::Malformed("a tensor without storage, offset, size and stride"));
            }
            let Value::Storage(storage) = &args[0] else {
                return Err(PickleError::Malformed("a tensor whose storage is not stored data"));
            };
            let size = ints(&args[2])?;
            let stride = ints(&args[3])?;
            if size.len() != stride.len() {
                return Err(PickleError::Malformed("a tensor whose size and stride differ in length"));
            }
            Ok(Value::Tensor(TensorRef { storage: storage.clone(), offset: int(&args[1])?, size, stride }))
        }
        ("torch._utils", "_rebuild_parameter") => match args.into_iter().next() {
            Some(tensor @ Value::Tensor(_)) => Ok(tensor),
            _ => Err(PickleError::Malformed("a parameter without a tensor")),
        },
        _ => Err(PickleError::ForbiddenGlobal(format!("{module}.{name}"))),
    }
}

/// The storage a persistent id of PyTorch's names: `('storage', torch.FloatStorage, key,
/// location, numel[, view])`.
pub fn storage_from_persistent_id(id: Value) -> Result<Value, PickleError> {
    let Value::Tuple(items) = id else {
        return Err(PickleError::Malformed("a persistent id that is not a tuple"));
    };
    match items.as_slice() {
        [Value::Str(tag), Value::Global(_, dtype), key, _location, numel, ..] if tag == "storage" => {
            let key = match key {
                Value::Str(key) => key.clone(),
                Value::Int(key) => key.to_string(),
                _ => return Err(PickleError::Malformed("a storage key that is not text")),
            };
            Ok(Value::Storage(StorageRef { dtype: dtype.clone(), key, numel: int(numel)? }))
        }
        _ => Err(PickleError::Malformed("a persistent id that is not a storage")),
    }
}
