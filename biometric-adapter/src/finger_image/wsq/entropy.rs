//! The entropy-coded data of a block: canonical Huffman codes (JPEG style: 16 code-length counts,
//! then the symbols) over a bit stream with byte stuffing (a 0xFF data byte is followed by 0x00),
//! ended by the next marker.
//!
//! Symbols: 1-100 a run of that many zero coefficients; 101/102 a positive/negative coefficient
//! whose magnitude follows in 8 bits, 103/104 in 16 bits; 105/106 a zero run whose length follows
//! in 8/16 bits; 107-254 the coefficient `symbol - 180` (-73..=74). 0 and 255 mean nothing.

use super::{Cursor, Result, WsqError, subbands::Placer};

/// The longest code.
const MAX_CODE_LENGTH: usize = 16;
/// The most symbols a table may list (as NBIS's `MAX_HUFFCOUNTS_WSQ`).
const MAX_SYMBOLS: usize = 256;

/// A Huffman table ready for decoding: per code length, the largest code of that length, the
/// first code and where its symbols start.
#[derive(Debug, Clone)]
pub(super) struct HuffmanTable {
    id: u8,
    /// `max_code[l]`: the largest code of length `l`, or -1 if there is none.
    max_code: [i32; MAX_CODE_LENGTH + 1],
    min_code: [i32; MAX_CODE_LENGTH + 1],
    first_symbol: [usize; MAX_CODE_LENGTH + 1],
    symbols: Vec<u8>,
}

impl HuffmanTable {
    /// Reads one table after its identifier: 16 counts, then the symbols.
    pub(super) fn read(cursor: &mut Cursor<'_>, id: u8, id_at: usize) -> Result<HuffmanTable> {
        let mut counts = [0u8; MAX_CODE_LENGTH];
        for count in &mut counts {
            *count = cursor.u8("a Huffman table's code counts")?;
        }
        let total: usize = counts.iter().map(|&c| usize::from(c)).sum();
        if total == 0 || total > MAX_SYMBOLS {
            return Err(WsqError::new(id_at + 1, format!("Huffman table {id} has {total} codes (1-{MAX_SYMBOLS})")));
        }
        let symbols = cursor.take(total, "a Huffman table's symbols")?.to_vec();
        let mut table = HuffmanTable {
            id,
            max_code: [-1; MAX_CODE_LENGTH + 1],
            min_code: [0; MAX_CODE_LENGTH + 1],
            first_symbol: [0; MAX_CODE_LENGTH + 1],
            symbols,
        };
        // Canonical codes: consecutive within a length, doubled when the length grows.
        let mut code: i32 = 0;
        let mut symbol = 0usize;
        for length in 1..=MAX_CODE_LENGTH {
            let count = i32::from(counts[length - 1]);
            if count > 0 {
                table.min_code[length] = code;
                table.first_symbol[length] = symbol;
                code += count;
                if code > 1 << length {
                    return Err(WsqError::new(
                        id_at + length,
                        format!("Huffman table {id} has more codes of length {length} than {length} bits can hold"),
                    ));
                }
                table.max_code[length] = code - 1;
                symbol += usize::from(counts[length - 1]);
            }
            code <<= 1;
        }
        Ok(table)
    }
}

/// Bits of the coded data, most significant first, with the stuffed zero after each 0xFF skipped.
struct Bits<'c, 'a> {
    cursor: &'c mut Cursor<'a>,
    byte: u8,
    left: u8,
    block: usize,
}

/// What reading a bit found.
enum Bit {
    Bit(u8),
    /// A marker starts at the cursor: the block's data ended.
    Marker,
}

impl Bits<'_, '_> {
    fn bit(&mut self) -> Result<Bit> {
        if self.left == 0 {
            let at = self.cursor.pos();
            let what = format!("the coded data of block {}", self.block);
            let byte = *self.cursor.data.get(at).ok_or_else(|| {
                WsqError::new(at, format!("the stream ends inside {what}, before the end-of-image marker"))
            })?;
            if byte == 0xFF {
                match self.cursor.data.get(at + 1) {
                    Some(0x00) => self.cursor.pos = at + 2,
                    Some(_) => return Ok(Bit::Marker),
                    None => return Err(WsqError::new(at, format!("the stream ends inside {what}"))),
                }
            } else {
                self.cursor.pos = at + 1;
            }
            self.byte = byte;
            self.left = 8;
        }
        self.left -= 1;
        Ok(Bit::Bit((self.byte >> self.left) & 1))
    }

    /// `n` more bits of an escaped value; a marker inside them is an error.
    fn bits(&mut self, n: u8, symbol: u8) -> Result<u32> {
        let mut value = 0u32;
        for _ in 0..n {
            match self.bit()? {
                Bit::Bit(bit) => value = value << 1 | u32::from(bit),
                Bit::Marker => {
                    return Err(WsqError::new(
                        self.cursor.pos(),
                        format!("a marker inside the {n} bits that follow symbol {symbol}"),
                    ));
                }
            }
        }
        Ok(value)
    }

    /// The next symbol, or `None` at the marker that ends the block (the bits of a code cut short
    /// by it are the last byte's padding).
    fn symbol(&mut self, table: &HuffmanTable) -> Result<Option<u8>> {
        let start = self.cursor.pos();
        let mut code: i32 = 0;
        for length in 1..=MAX_CODE_LENGTH {
            match self.bit()? {
                Bit::Marker => return Ok(None),
                Bit::Bit(bit) => code = code << 1 | i32::from(bit),
            }
            if code <= table.max_code[length] {
                let index = table.first_symbol[length] + (code - table.min_code[length]) as usize;
                return table.symbols.get(index).copied().map(Some).ok_or_else(|| {
                    WsqError::new(start, format!("code {code:b} has no symbol in Huffman table {}", table.id))
                });
            }
        }
        Err(WsqError::new(start, format!("no code of Huffman table {} matches the bits here", table.id)))
    }
}

/// Decodes one block's coded data into `placer`, up to the marker that ends it (left unread).
pub(super) fn decode_block(
    cursor: &mut Cursor<'_>,
    table: &HuffmanTable,
    placer: &mut Placer<'_>,
    block: usize,
) -> Result<()> {
    let mut bits = Bits { cursor, byte: 0, left: 0, block };
    loop {
        let at = bits.cursor.pos();
        let Some(symbol) = bits.symbol(table)? else { return Ok(()) };
        let placed = match symbol {
            1..=100 => placer.zeros(usize::from(symbol)),
            101 => placer.value(bits.bits(8, symbol)? as i32),
            102 => placer.value(-(bits.bits(8, symbol)? as i32)),
            103 => placer.value(bits.bits(16, symbol)? as i32),
            104 => placer.value(-(bits.bits(16, symbol)? as i32)),
            105 => placer.zeros(bits.bits(8, symbol)? as usize),
            106 => placer.zeros(bits.bits(16, symbol)? as usize),
            107..=254 => placer.value(i32::from(symbol) - 180),
            0 | 255 => {
                return Err(WsqError::new(at, format!("symbol {symbol} (Huffman table {}) means nothing", table.id)));
            }
        };
        if placed.is_err() {
            return Err(WsqError::new(
                at,
                format!("block {block} holds more coefficients than the coded subbands have ({})", placer.placed()),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(counts: [u8; 16], symbols: &[u8]) -> Result<HuffmanTable> {
        let mut bytes = counts.to_vec();
        bytes.extend_from_slice(symbols);
        HuffmanTable::read(&mut Cursor::new(&bytes), 0, 0)
    }

    #[test]
    fn canonical_codes_decode_and_overfull_tables_are_refused() {
        // Codes: 0 -> 180 (a zero), 10 -> 1 (run of one), 110 -> 101, 111 -> 255.
        let t = table([1, 1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], &[180, 1, 101, 255]).unwrap();
        // 0 | 10 | 110 + 00000101 | 0, one bit of padding (1), then a marker.
        let data = [0b0101_1000, 0b0001_0101, 0xFF, 0xA1];
        let mut cursor = Cursor::new(&data);
        let mut bits = Bits { cursor: &mut cursor, byte: 0, left: 0, block: 1 };
        assert_eq!(bits.symbol(&t).unwrap(), Some(180));
        assert_eq!(bits.symbol(&t).unwrap(), Some(1));
        assert_eq!(bits.symbol(&t).unwrap(), Some(101));
        assert_eq!(bits.bits(8, 101).unwrap(), 5);
        assert_eq!(bits.symbol(&t).unwrap(), Some(180));
        assert!(bits.symbol(&t).unwrap().is_none(), "the padding bit starts a code the marker cuts short");
        assert_eq!(cursor.pos(), 2, "the marker is left for the segment reader");

        let e = table([3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], &[1, 2, 3]).unwrap_err();
        assert!(e.reason.contains("length 1"), "{e}");
        let e = table([0; 16], &[]).unwrap_err();
        assert!(e.reason.contains("0 codes"), "{e}");
    }

    #[test]
    fn stuffed_bytes_are_data_and_markers_inside_escapes_are_errors() {
        let data = [0xFF, 0x00, 0xFF, 0xA3];
        let mut cursor = Cursor::new(&data);
        let mut bits = Bits { cursor: &mut cursor, byte: 0, left: 0, block: 1 };
        assert_eq!(bits.bits(8, 101).unwrap(), 0xFF);
        let e = bits.bits(8, 101).unwrap_err();
        assert!(e.reason.contains("a marker inside"), "{e}");
        let mut cursor = Cursor::new(&[0x12]);
        let mut bits = Bits { cursor: &mut cursor, byte: 0, left: 0, block: 2 };
        let e = bits.bits(16, 103).unwrap_err();
        assert!(e.at == 1 && e.reason.contains("block 2"), "{e}");
    }
}
