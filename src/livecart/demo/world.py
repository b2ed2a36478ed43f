"""The demo world as data: brands, products with SKUs and attributes, people, chat phrases."""

from __future__ import annotations

import random
import struct
import zlib
from dataclasses import dataclass, field
from typing import Any

DEMO_PASSWORD = "livecart-demo"  # noqa: S105 - the documented password of every demo account
EMAIL_DOMAIN = "livecart.example"  # RFC 2606: reserved, never delivered
CURRENCY = "CNY"


@dataclass(frozen=True)
class SkuSpec:
    code: str
    price: int  # CNY minor units (fen)
    stock: int
    attributes: dict[str, str]


@dataclass(frozen=True)
class ProductSpec:
    title: str
    category: str
    description: str
    attributes: dict[str, Any]
    skus: tuple[SkuSpec, ...]
    colour: str


@dataclass(frozen=True)
class BrandSpec:
    key: str
    name: str
    description: str
    colour: str
    merchant_name: str
    products: tuple[ProductSpec, ...] = field(default_factory=tuple)

    @property
    def merchant_email(self) -> str:
        return f"merchant.{self.key}@{EMAIL_DOMAIN}"


@dataclass(frozen=True)
class AnchorSpec:
    key: str
    display_name: str
    room_title: str
    room_description: str
    brand_keys: tuple[str, ...]  # whose products this anchor mostly sells
    session_titles: tuple[str, ...]

    @property
    def email(self) -> str:
        return f"anchor.{self.key}@{EMAIL_DOMAIN}"


OPERATOR_EMAIL = f"operator@{EMAIL_DOMAIN}"
OPERATOR_NAME = "Platform Ops"
SHOWCASE_CONSUMER_EMAIL = f"viewer@{EMAIL_DOMAIN}"
SHOWCASE_CONSUMER_NAME = "Xiao Yu 小雨"


def _variants(
    prefix: str,
    axes: dict[str, list[str]],
    base_price: int,
    stock: int,
    surcharge: dict[str, int] | None = None,
) -> tuple[SkuSpec, ...]:
    """Every combination of the variant axes as SKUs, with optional per-value surcharges."""
    combos: list[dict[str, str]] = [{}]
    for axis, values in axes.items():
        combos = [{**c, axis: v} for c in combos for v in values]
    surcharge = surcharge or {}
    skus = []
    for combo in combos:
        suffix = "-".join(v.split(" ")[0].upper()[:6] for v in combo.values())
        price = base_price + sum(surcharge.get(v, 0) for v in combo.values())
        skus.append(
            SkuSpec(
                code=f"{prefix}-{suffix}" if suffix else prefix,
                price=price,
                stock=stock,
                attributes=combo,
            )
        )
    return tuple(skus)


def _p(
    title: str,
    category: str,
    description: str,
    attributes: dict[str, Any],
    skus: tuple[SkuSpec, ...],
    colour: str,
) -> ProductSpec:
    return ProductSpec(title, category, description, attributes, skus, colour)


BEAUTY = BrandSpec(
    key="yulan",
    name="Yulan Beauty 玉兰",
    description="Skincare and make-up from Yunnan botanicals, made in Shanghai.",
    colour="#d96a8b",
    merchant_name="Yulan Store Team",
    products=(
        _p(
            "Camellia Cleansing Oil",
            "skincare",
            "Melts sunscreen and long-wear make-up, rinses clean without a tight feeling.",
            {
                "volume": "200 ml",
                "skin_type": "all, incl. sensitive",
                "key_ingredients": "camellia seed oil, rice bran oil",
                "usage": "2-3 pumps on dry face, massage 30 s, emulsify with water",
                "origin": "Shanghai, China",
                "shelf_life": "36 months, 12 months after opening",
            },
            _variants("YL-CLO", {"size": ["200 ml", "400 ml"]}, 12900, 180, {"400 ml": 8000}),
            "#f3c6a5",
        ),
        _p(
            "Ginseng Essence Serum",
            "skincare",
            "A light first-step essence with fermented ginseng for a brighter, even tone.",
            {
                "volume": "50 ml",
                "skin_type": "dull, tired skin",
                "key_ingredients": "fermented ginseng 5%, niacinamide 4%",
                "usage": "morning and evening after toner",
                "origin": "Shanghai, China",
                "shelf_life": "30 months",
            },
            _variants("YL-GSS", {"size": ["30 ml", "50 ml"]}, 19900, 150, {"50 ml": 9000}),
            "#e9b44c",
        ),
        _p(
            "Rice Water Toner",
            "skincare",
            "Milky hydrating toner that preps skin and calms redness.",
            {
                "volume": "150 ml",
                "skin_type": "dry, combination",
                "key_ingredients": "rice ferment filtrate, panthenol",
                "usage": "pat in with hands or a cotton pad",
                "origin": "Hangzhou, China",
                "shelf_life": "36 months",
            },
            _variants("YL-RWT", {"size": ["150 ml"]}, 8900, 240),
            "#f2efe6",
        ),
        _p(
            "Peony Sheet Mask (box of 10)",
            "skincare",
            "Soft cupra sheets soaked in peony extract; 15 minutes to plump, dewy skin.",
            {
                "contents": "10 masks x 25 ml",
                "skin_type": "all",
                "key_ingredients": "peony root extract, hyaluronic acid",
                "usage": "15-20 minutes, 2-3 times a week",
                "origin": "Guangzhou, China",
                "shelf_life": "24 months",
            },
            _variants("YL-PSM", {"pack": ["10 pcs", "30 pcs"]}, 9900, 300, {"30 pcs": 15000}),
            "#f7a8b8",
        ),
        _p(
            "Silk Cushion Foundation SPF30",
            "makeup",
            "Buildable medium coverage with a satin finish; refill included.",
            {
                "net_weight": "2 x 12 g",
                "finish": "satin",
                "coverage": "medium, buildable",
                "spf": "SPF30 PA+++",
                "origin": "Shanghai, China",
                "shelf_life": "24 months",
            },
            _variants(
                "YL-SCF",
                {"shade": ["Porcelain 11", "Ivory 21", "Natural 23", "Honey 25"]},
                15900,
                80,
            ),
            "#e8c4a0",
        ),
        _p(
            "Velvet Matte Lipstick",
            "makeup",
            "Creamy matte that does not dry lips; eight-hour wear.",
            {
                "net_weight": "3.5 g",
                "finish": "velvet matte",
                "origin": "Shanghai, China",
                "shelf_life": "36 months",
            },
            _variants(
                "YL-VML",
                {"shade": ["Chili Red", "Brick Rose", "Peach Nude", "Plum Wine"]},
                13900,
                120,
            ),
            "#b8303f",
        ),
        _p(
            "Snow Lotus Sunscreen SPF50+",
            "skincare",
            "Weightless daily sunscreen, no white cast, good under make-up.",
            {
                "volume": "50 ml",
                "spf": "SPF50+ PA++++",
                "key_ingredients": "snow lotus extract, zinc oxide",
                "usage": "last step of morning routine; reapply every 2 hours outdoors",
                "origin": "Shanghai, China",
                "shelf_life": "30 months",
            },
            _variants("YL-SLS", {"size": ["50 ml", "2 x 50 ml"]}, 11900, 200, {"2 x 50 ml": 9900}),
            "#bfe3f2",
        ),
        _p(
            "Green Tea Clay Mask",
            "skincare",
            "Kaolin clay with Longjing green tea to clear pores without stripping.",
            {
                "net_weight": "100 g",
                "skin_type": "oily, combination",
                "usage": "thin layer for 10 minutes, once a week",
                "origin": "Hangzhou, China",
                "shelf_life": "24 months",
            },
            _variants("YL-GTM", {"size": ["100 g"]}, 7900, 160),
            "#8fbf7f",
        ),
        _p(
            "Pearl Eye Cream",
            "skincare",
            "Freshwater pearl powder and peptides for fine lines and dark circles.",
            {
                "volume": "20 ml",
                "key_ingredients": "hydrolysed pearl, peptides, caffeine",
                "usage": "rice-grain amount, morning and night",
                "origin": "Zhuji, Zhejiang",
                "shelf_life": "24 months",
            },
            _variants("YL-PEC", {"size": ["20 ml"]}, 22900, 90),
            "#ece6f0",
        ),
        _p(
            "Osmanthus Hand Cream Trio",
            "body",
            "Three travel tubes scented with osmanthus, jasmine and white tea.",
            {
                "contents": "3 x 30 ml",
                "usage": "as often as needed",
                "origin": "Guilin, China",
                "shelf_life": "36 months",
            },
            _variants("YL-OHC", {"set": ["Trio"]}, 6900, 260),
            "#f2c14e",
        ),
        _p(
            "Rose Hip Lip Balm",
            "skincare",
            "Overnight lip balm with rose hip oil and shea butter.",
            {
                "net_weight": "10 g",
                "usage": "before bed or under lipstick",
                "origin": "Shanghai, China",
                "shelf_life": "24 months",
            },
            _variants("YL-RHL", {"tint": ["Clear", "Rose"]}, 4900, 300),
            "#e07a8f",
        ),
        _p(
            "Goat Hair Make-up Brush Set",
            "tools",
            "Seven hand-tied brushes from Cangzhou brush makers, with a linen roll.",
            {
                "contents": "7 brushes + linen roll",
                "material": "goat hair, walnut wood handles",
                "care": "wash weekly with mild soap, dry flat",
                "origin": "Cangzhou, Hebei",
            },
            _variants("YL-BRS", {"set": ["7 pcs"]}, 26900, 60),
            "#8a6a4f",
        ),
    ),
)

APPAREL = BrandSpec(
    key="silklane",
    name="Silk Lane 丝路",
    description="Everyday silk, linen and merino, cut in Hangzhou with a modern Chinese line.",
    colour="#4f6d7a",
    merchant_name="Silk Lane Atelier",
    products=(
        _p(
            "Mulberry Silk Pajama Set",
            "sleepwear",
            "22 momme 6A mulberry silk, piped collar, relaxed fit; long sleeves and trousers.",
            {
                "material": "100% mulberry silk, 22 momme",
                "size_chart": {
                    "S": "bust 96 cm, length 66 cm",
                    "M": "bust 100 cm, length 68 cm",
                    "L": "bust 106 cm, length 70 cm",
                    "XL": "bust 112 cm, length 72 cm",
                },
                "care": "hand wash cold or silk bag, dry in shade",
                "origin": "Hangzhou, China",
            },
            _variants(
                "SL-MSP",
                {"colour": ["Champagne", "Ink Blue", "Blush"], "size": ["S", "M", "L", "XL"]},
                59900,
                25,
            ),
            "#e7d3b5",
        ),
        _p(
            "Linen Wide-Leg Trousers",
            "bottoms",
            "Washed linen with an elastic back waist; breathes in the Shanghai summer.",
            {
                "material": "100% linen, 185 g/m2",
                "size_chart": {"S": "waist 64-76 cm", "M": "waist 68-80 cm", "L": "waist 72-86 cm"},
                "care": "machine wash 30 °C, line dry",
                "origin": "Shaoxing, China",
            },
            _variants(
                "SL-LWT", {"colour": ["Oat", "Black", "Sage"], "size": ["S", "M", "L"]}, 29900, 30
            ),
            "#cbbf9f",
        ),
        _p(
            "Merino Knit Cardigan",
            "knitwear",
            "Fine-gauge merino with mother-of-pearl buttons; layers under a coat.",
            {
                "material": "100% merino wool, 16.5 micron",
                "size_chart": {"S": "bust 92 cm", "M": "bust 98 cm", "L": "bust 104 cm"},
                "care": "hand wash cold, dry flat",
                "origin": "Tongxiang, Zhejiang",
            },
            _variants(
                "SL-MKC",
                {"colour": ["Camel", "Charcoal", "Cream"], "size": ["S", "M", "L"]},
                45900,
                20,
            ),
            "#b08968",
        ),
        _p(
            "Mandarin-Collar Cotton Shirt",
            "tops",
            "Crisp poplin shirt with a band collar and frog-knot detail.",
            {
                "material": "100% cotton poplin",
                "size_chart": {"M": "chest 104 cm", "L": "chest 110 cm", "XL": "chest 116 cm"},
                "care": "machine wash 40 °C, warm iron",
                "origin": "Ningbo, China",
            },
            _variants(
                "SL-MCS", {"colour": ["White", "Indigo"], "size": ["M", "L", "XL"]}, 25900, 35
            ),
            "#f5f5f0",
        ),
        _p(
            "Lightweight Down Vest",
            "outerwear",
            "90% white duck down, packs into its own pocket.",
            {
                "material": "nylon shell, 90/10 duck down, 650 fill",
                "size_chart": {"S": "chest 98 cm", "M": "chest 104 cm", "L": "chest 110 cm"},
                "care": "machine wash gentle, tumble dry low with balls",
                "origin": "Jiaxing, China",
            },
            _variants("SL-LDV", {"colour": ["Black", "Olive"], "size": ["S", "M", "L"]}, 39900, 25),
            "#5b6b4a",
        ),
        _p(
            "Hand-Rolled Silk Scarf 90",
            "accessories",
            "Twill silk square with a crane-and-cloud print, hand-rolled edges.",
            {
                "material": "100% silk twill, 16 momme",
                "dimensions": "90 x 90 cm",
                "care": "dry clean",
                "origin": "Suzhou, China",
            },
            _variants("SL-HSS", {"print": ["Crane Blue", "Peony Red"]}, 35900, 40),
            "#3d6fa8",
        ),
        _p(
            "Bamboo Fibre Socks (5 pairs)",
            "accessories",
            "Soft, cool and odour-resistant everyday socks.",
            {
                "material": "80% bamboo viscose, 17% cotton, 3% elastane",
                "size_chart": {"M": "EU 36-40", "L": "EU 41-45"},
                "care": "machine wash 40 °C",
                "origin": "Zhuji, China",
            },
            _variants("SL-BFS", {"size": ["M", "L"]}, 7900, 150),
            "#9ab89a",
        ),
        _p(
            "Cashmere Blend Beanie",
            "accessories",
            "Rib-knit beanie, warm without itch.",
            {
                "material": "30% cashmere, 70% wool",
                "size_chart": {"One size": "head 54-60 cm"},
                "care": "hand wash cold",
                "origin": "Inner Mongolia, China",
            },
            _variants("SL-CBB", {"colour": ["Oatmeal", "Burgundy", "Navy"]}, 15900, 60),
            "#7a2e3a",
        ),
        _p(
            "Quilted Tang Jacket",
            "outerwear",
            "Padded jacket with knotted buttons, a modern take on the Tang-style coat.",
            {
                "material": "cotton-linen shell, polyester padding",
                "size_chart": {"M": "chest 112 cm", "L": "chest 118 cm", "XL": "chest 124 cm"},
                "care": "dry clean or hand wash cold",
                "origin": "Hangzhou, China",
            },
            _variants(
                "SL-QTJ", {"colour": ["Ink", "Vermilion"], "size": ["M", "L", "XL"]}, 69900, 15
            ),
            "#b23a2a",
        ),
        _p(
            "Sculpt Yoga Leggings",
            "activewear",
            "High-rise, squat-proof, with a hidden waistband pocket.",
            {
                "material": "75% nylon, 25% spandex",
                "size_chart": {"S": "waist 60-66 cm", "M": "waist 66-72 cm", "L": "waist 72-78 cm"},
                "care": "machine wash cold, no softener",
                "origin": "Xiamen, China",
            },
            _variants(
                "SL-SYL", {"colour": ["Black", "Mist Grey"], "size": ["S", "M", "L"]}, 21900, 40
            ),
            "#3b3b3b",
        ),
        _p(
            "Canvas Market Tote",
            "bags",
            "Heavy canvas tote with a leather-trimmed handle and inner zip pocket.",
            {
                "material": "16 oz cotton canvas, cowhide trim",
                "dimensions": "42 x 36 x 14 cm",
                "origin": "Guangzhou, China",
            },
            _variants("SL-CMT", {"colour": ["Natural", "Forest"]}, 18900, 50),
            "#d8ccb0",
        ),
    ),
)

KITCHEN = BrandSpec(
    key="hearth",
    name="Hearth & Wok 灶台",
    description="Cookware and tea ware for Chinese kitchens: carbon steel, clay, bamboo, celadon.",
    colour="#a0522d",
    merchant_name="Hearth & Wok Shop",
    products=(
        _p(
            "Hand-Hammered Carbon Steel Wok",
            "cookware",
            "Zhangqiu wok hammered 36,000 times; pre-seasoned, works on gas and induction.",
            {
                "material": "1.8 mm carbon steel, wooden handle",
                "size_chart": {"32 cm": "for 2-4 people", "34 cm": "for 4-6 people"},
                "usage": "heat dry, oil, cook; wash without soap and dry on the flame",
                "origin": "Zhangqiu, Shandong",
                "weight": "1.4 kg",
            },
            _variants("HW-CSW", {"diameter": ["32 cm", "34 cm"]}, 29900, 60, {"34 cm": 3000}),
            "#444444",
        ),
        _p(
            "Clay Pot Casserole",
            "cookware",
            "Yunnan purple clay pot for soups and claypot rice.",
            {
                "material": "purple clay, glazed inside",
                "capacity": "2.5 L",
                "usage": "soak before first use; gas only",
                "origin": "Jianshui, Yunnan",
            },
            _variants("HW-CPC", {"capacity": ["1.6 L", "2.5 L"]}, 16900, 50, {"2.5 L": 4000}),
            "#6b3e2e",
        ),
        _p(
            "Two-Tier Bamboo Steamer",
            "cookware",
            "Hand-woven bamboo steamer with lid, for dumplings, buns and fish.",
            {
                "material": "moso bamboo",
                "dimensions": "26 cm diameter, 2 tiers + lid",
                "care": "rinse, air dry, no dishwasher",
                "origin": "Anji, Zhejiang",
            },
            _variants("HW-BST", {"diameter": ["20 cm", "26 cm"]}, 8900, 100, {"26 cm": 2000}),
            "#d9b26f",
        ),
        _p(
            "Induction Rice Cooker 3L",
            "appliances",
            "IH heating with a 2 mm clay-coated pot; fluffy jasmine and perfect congee.",
            {
                "capacity": "3 L (1-6 people)",
                "power": "860 W, 220 V",
                "programs": "white, brown, congee, claypot, steam, keep warm",
                "warranty": "2 years",
                "origin": "Foshan, Guangdong",
            },
            _variants("HW-IRC", {"colour": ["White", "Charcoal"]}, 69900, 40),
            "#f0f0f0",
        ),
        _p(
            "Celadon Tea Cup Set",
            "tea ware",
            "Six Longquan celadon cups with a crackle glaze.",
            {
                "material": "Longquan celadon porcelain",
                "contents": "6 cups, 60 ml each",
                "care": "hand wash",
                "origin": "Longquan, Zhejiang",
            },
            _variants("HW-CTC", {"glaze": ["Plum Green", "Powder Blue"]}, 25900, 45),
            "#9cc5a1",
        ),
        _p(
            "Glass Teapot with Infuser",
            "tea ware",
            "Heat-resistant borosilicate pot; watch the leaves unfurl.",
            {
                "material": "borosilicate glass, stainless infuser",
                "capacity": "600 ml",
                "usage": "stovetop safe on gas at low flame",
                "origin": "Hebei, China",
            },
            _variants("HW-GTP", {"capacity": ["600 ml", "1000 ml"]}, 9900, 90, {"1000 ml": 3000}),
            "#cfe8ef",
        ),
        _p(
            "Chinese Chef's Cleaver",
            "knives",
            "Slicing cleaver in three-layer steel, sharp out of the box.",
            {
                "material": "3-layer composite steel, HRC 58, rosewood handle",
                "blade": "20 cm",
                "care": "hand wash and dry at once",
                "origin": "Yangjiang, Guangdong",
            },
            _variants("HW-CCL", {"blade": ["18 cm", "20 cm"]}, 19900, 55),
            "#8e8e8e",
        ),
        _p(
            "Vacuum Thermos 500 ml",
            "drinkware",
            "Keeps tea hot 12 hours; removable leaf strainer.",
            {
                "material": "316 stainless steel",
                "capacity": "500 ml",
                "insulation": "hot 12 h, cold 24 h",
                "origin": "Yongkang, Zhejiang",
            },
            _variants("HW-VTH", {"colour": ["Matte Black", "Jade", "Sand"]}, 12900, 120),
            "#2f6f62",
        ),
        _p(
            "Silicone Food Storage Set",
            "storage",
            "Four collapsible boxes, microwave and freezer safe.",
            {
                "material": "food-grade silicone, PP lids",
                "contents": "350/500/800/1200 ml",
                "usage": "-40 °C to 230 °C",
                "origin": "Dongguan, Guangdong",
            },
            _variants("HW-SFS", {"set": ["4 pcs"]}, 11900, 140),
            "#7fb3d5",
        ),
        _p(
            "Jujube Wood Chopsticks (10 pairs)",
            "tableware",
            "Oil-finished jujube wood, no lacquer, square grip.",
            {
                "material": "jujube wood, food-grade oil finish",
                "length": "25 cm",
                "care": "hand wash, dry upright",
                "origin": "Shanxi, China",
            },
            _variants("HW-JWC", {"pack": ["10 pairs"]}, 5900, 200),
            "#8b4a2b",
        ),
        _p(
            "Ginkgo Wood Cutting Board",
            "tableware",
            "Soft-on-knives ginkgo board, end-grain edges.",
            {
                "material": "ginkgo wood",
                "dimensions": "36 x 24 x 3 cm",
                "care": "oil monthly, never soak",
                "origin": "Pizhou, Jiangsu",
            },
            _variants("HW-GCB", {"size": ["Medium", "Large"]}, 15900, 60, {"Large": 6000}),
            "#e3c48a",
        ),
        _p(
            "Variable Temperature Kettle",
            "appliances",
            "Six presets from 50 °C for green tea to 100 °C; 1.2 L.",
            {
                "capacity": "1.2 L",
                "power": "1500 W, 220 V",
                "presets": "50/70/80/85/90/100 °C",
                "warranty": "1 year",
                "origin": "Ningbo, Zhejiang",
            },
            _variants("HW-VTK", {"colour": ["White", "Black"]}, 27900, 70),
            "#d0d0d0",
        ),
    ),
)

TEA = BrandSpec(
    key="mistpeak",
    name="Misty Peak Tea 雾峰茶",
    description="Teas and snacks from small farms: Longjing, Pu'er, jasmine, and treats from home.",
    colour="#5b8c5a",
    merchant_name="Misty Peak Tea House",
    products=(
        _p(
            "West Lake Longjing, Pre-Qingming",
            "tea",
            "First-flush dragon well green tea, hand-fired; chestnut and orchid notes.",
            {
                "net_weight": "100 g",
                "origin": "Shifeng, West Lake, Hangzhou",
                "harvest": "spring, before Qingming",
                "brewing": "80 °C, 3 g per 150 ml, 1-2 minutes",
                "storage": "sealed, refrigerated",
                "shelf_life": "18 months",
            },
            _variants(
                "MP-LJ",
                {"weight": ["50 g", "100 g", "250 g"]},
                16800,
                80,
                {"100 g": 14000, "250 g": 48000},
            ),
            "#6a9a4a",
        ),
        _p(
            "Yunnan Aged Pu'er Cake",
            "tea",
            "2016 ripe Pu'er cake from Menghai; smooth, earthy, sweet finish.",
            {
                "net_weight": "357 g",
                "origin": "Menghai, Yunnan",
                "vintage": "2016",
                "brewing": "100 °C, rinse once, 10-30 s steeps",
                "storage": "dry, ventilated, no odours",
                "shelf_life": "suitable for long-term storage",
            },
            _variants("MP-PE", {"weight": ["357 g"]}, 29800, 60),
            "#5a3a22",
        ),
        _p(
            "Jasmine Dragon Pearls",
            "tea",
            "Hand-rolled green tea pearls scented seven times with fresh jasmine.",
            {
                "net_weight": "100 g",
                "origin": "Fuding, Fujian",
                "brewing": "85 °C, 8-10 pearls per cup",
                "shelf_life": "24 months",
            },
            _variants("MP-JDP", {"weight": ["100 g", "250 g"]}, 12800, 90, {"250 g": 15000}),
            "#f1f3d0",
        ),
        _p(
            "Osmanthus Oolong",
            "tea",
            "Tieguanyin oolong layered with sweet osmanthus blossom.",
            {
                "net_weight": "150 g (30 sachets)",
                "origin": "Anxi, Fujian",
                "brewing": "95 °C, 1 sachet per 200 ml",
                "shelf_life": "18 months",
            },
            _variants("MP-OO", {"pack": ["30 sachets"]}, 8800, 150),
            "#e6b54a",
        ),
        _p(
            "Dried Mango Slices",
            "snacks",
            "Thick-cut Tainong mango, no added sugar.",
            {
                "net_weight": "250 g",
                "ingredients": "mango",
                "origin": "Panzhihua, Sichuan",
                "shelf_life": "12 months",
                "storage": "cool and dry; refrigerate after opening",
            },
            _variants("MP-DM", {"pack": ["250 g", "3 x 250 g"]}, 3990, 400, {"3 x 250 g": 6000}),
            "#f4a300",
        ),
        _p(
            "Spicy Beef Jerky",
            "snacks",
            "Sichuan pepper and chilli beef jerky, tender strips.",
            {
                "net_weight": "200 g",
                "ingredients": "beef, chilli, Sichuan pepper, soy sauce, sugar",
                "spice_level": "hot",
                "origin": "Chengdu, Sichuan",
                "shelf_life": "9 months",
            },
            _variants("MP-SBJ", {"spice": ["Mild", "Hot", "Numbing Hot"]}, 5990, 300),
            "#a4161a",
        ),
        _p(
            "Chongqing Hot Pot Base",
            "pantry",
            "Beef tallow hot pot base with 18 spices; serves 3-4 per pack.",
            {
                "net_weight": "4 x 150 g",
                "ingredients": "beef tallow, chilli, Sichuan pepper, doubanjiang, spices",
                "usage": "1 pack in 1.5 L water",
                "origin": "Chongqing",
                "shelf_life": "18 months",
            },
            _variants("MP-HPB", {"spice": ["Medium", "Extra Hot"]}, 4990, 350),
            "#c1121f",
        ),
        _p(
            "Lotus Seed Mooncake Gift Box",
            "gifts",
            "Eight Cantonese mooncakes: white lotus, double yolk, five kernel.",
            {
                "net_weight": "8 x 100 g",
                "origin": "Guangzhou, Guangdong",
                "shelf_life": "45 days",
                "allergens": "wheat, egg, nuts, sesame",
            },
            _variants("MP-MC", {"box": ["Classic", "Premium"]}, 18800, 120, {"Premium": 10000}),
            "#9d0208",
        ),
        _p(
            "Ningxia Goji Berries",
            "pantry",
            "Large, sun-dried Zhongning goji; into tea, congee or straight from the bag.",
            {
                "net_weight": "500 g",
                "grade": "special grade, 280 berries/50 g",
                "origin": "Zhongning, Ningxia",
                "shelf_life": "12 months",
            },
            _variants("MP-GJ", {"pack": ["250 g", "500 g"]}, 3990, 250, {"500 g": 3500}),
            "#d00000",
        ),
        _p(
            "Black Sesame Crisps",
            "snacks",
            "Thin crunchy sesame and maltose crisps.",
            {
                "net_weight": "300 g",
                "ingredients": "black sesame, maltose, peanut",
                "allergens": "sesame, peanut",
                "origin": "Xiamen, Fujian",
                "shelf_life": "8 months",
            },
            _variants("MP-BSC", {"pack": ["300 g"]}, 2990, 400),
            "#2b2b2b",
        ),
        _p(
            "White Peony White Tea Cake",
            "tea",
            "2019 Fuding Bai Mu Dan pressed cake; honey and hay.",
            {
                "net_weight": "300 g",
                "origin": "Fuding, Fujian",
                "vintage": "2019",
                "brewing": "90 °C or boil for 5 minutes",
                "shelf_life": "suitable for long-term storage",
            },
            _variants("MP-WPC", {"weight": ["300 g"]}, 23800, 70),
            "#e9e4c9",
        ),
    ),
)

BRANDS: tuple[BrandSpec, ...] = (BEAUTY, APPAREL, KITCHEN, TEA)

ANCHORS: tuple[AnchorSpec, ...] = (
    AnchorSpec(
        "lily",
        "Lily Chen 陈莉莉",
        "Lily's Glow Lab",
        "Skincare routines, honest swatches, no filter.",
        ("yulan",),
        ("Autumn skincare reset", "Cushion foundation shade match", "Sheet mask Sunday"),
    ),
    AnchorSpec(
        "wang",
        "Brother Wang 王哥",
        "Wang's Wok Kitchen",
        "Cooking live with the tools I sell. Ask anything.",
        ("hearth", "mistpeak"),
        ("Wok hei 101", "Hot pot night", "Dumplings with the bamboo steamer"),
    ),
    AnchorSpec(
        "mia",
        "Mia Zhou 周米娅",
        "Mia Wears Silk",
        "Try-ons in real sizes; I measure everything on camera.",
        ("silklane",),
        ("Silk pajama try-on", "Linen week", "Layering for cold Shanghai mornings"),
    ),
    AnchorSpec(
        "lin",
        "Tea Master Lin 林师傅",
        "Lin's Tea Table",
        "Brewing, tasting, and the stories of each farm.",
        ("mistpeak", "hearth"),
        ("Longjing first flush tasting", "Pu'er 101", "Tea and snacks for the weekend"),
    ),
    AnchorSpec(
        "kevin",
        "Kevin Xu 徐凯文",
        "Kevin's Good Finds",
        "Daily deals across brands, tested before I sell.",
        ("yulan", "silklane", "hearth", "mistpeak"),
        ("Friday good finds", "Gifts under 200", "Midnight flash deals"),
    ),
)

SURNAMES = (
    "Wang",
    "Li",
    "Zhang",
    "Liu",
    "Chen",
    "Yang",
    "Huang",
    "Zhao",
    "Wu",
    "Zhou",
    "Xu",
    "Sun",
    "Ma",
    "Zhu",
    "Hu",
    "Guo",
    "He",
    "Lin",
    "Gao",
    "Luo",
    "Zheng",
    "Liang",
    "Xie",
    "Song",
    "Tang",
    "Han",
)
GIVEN_NAMES = (
    "Wei",
    "Fang",
    "Na",
    "Min",
    "Jing",
    "Lei",
    "Yan",
    "Jie",
    "Tao",
    "Hui",
    "Ying",
    "Hao",
    "Xin",
    "Yu",
    "Ting",
    "Qiang",
    "Lan",
    "Bo",
    "Mei",
    "Jun",
    "Xiaoyu",
    "Zihan",
    "Yutong",
    "Haoran",
    "Shuang",
    "Ling",
    "Chen",
    "Rui",
    "Kai",
    "Yue",
    "Anna",
    "Coco",
    "Leo",
    "Vivian",
    "Jack",
    "Amy",
)
NICKNAMES = (
    "🐼",
    "小猫咪",
    "爱喝茶",
    "momo",
    "sunny",
    "吃货",
    "shopaholic",
    "夜猫子",
    "bubble tea",
    "小太阳",
)


def consumer_names(count: int, rng: random.Random) -> list[str]:
    """Plausible, mostly unique display names (pinyin names, some with a nickname)."""
    names: list[str] = []
    seen: set[str] = set()
    while len(names) < count:
        name = f"{rng.choice(GIVEN_NAMES)} {rng.choice(SURNAMES)}"
        if rng.random() < 0.25:
            name = f"{name} {rng.choice(NICKNAMES)}"
        if name in seen:
            name = f"{name} {len(names)}"
        seen.add(name)
        names.append(name)
    return names


CHAT_GREETINGS = (
    "hi everyone!",
    "大家好~",
    "just joined 👋",
    "来了来了",
    "evening from Chengdu",
    "第一次来，支持主播",
    "hello from Singapore!",
    "back again 😄",
    "主播好",
)
CHAT_QUESTIONS = (
    "what size should I get if I'm 165 cm, 55 kg?",
    "这个有几个颜色？",
    "is it suitable for sensitive skin?",
    "what's the material exactly?",
    "多久发货？",
    "do you ship to Hong Kong?",
    "can I return it if it doesn't fit?",
    "这个能放洗碗机吗？",
    "how long does it keep after opening?",
    "保质期多久？",
    "does the price include shipping?",
    "is there a discount for two?",
    "能不能再展示一下细节？",
    "is it true to size?",
    "产地是哪里？",
    "which shade for yellow undertone?",
    "can you show it on camera again?",
    "什么时候补货？",
)
CHAT_REACTIONS = (
    "wow 😍",
    "好看！",
    "bought it!",
    "已下单",
    "looks so soft",
    "太划算了",
    "need this",
    "🔥🔥🔥",
    "my mum would love this",
    "love the colour",
    "价格很好",
    "got mine last week, really good",
    "❤️",
    "哈哈哈",
    "so pretty",
    "冲冲冲",
    "the quality looks great",
    "nice demo!",
    "主播辛苦了",
)
ANCHOR_LINES = (
    "Pinned it for you: tap the card to see sizes 👇",
    "库存不多了，喜欢的抓紧~",
    "Good question! The size chart is in the product card.",
    "Ships within 48 hours from Hangzhou.",
    "This one is our best seller this month.",
    "欢迎新来的朋友们！",
    "Thanks for the orders, everyone ❤️",
)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def _rgb(colour: str) -> bytes:
    value = colour.lstrip("#")
    return bytes(int(value[i : i + 2], 16) for i in (0, 2, 4))


def product_png(colour: str, accent: str, *, size: int = 320) -> bytes:
    """A placeholder product photo (PNG): a soft backdrop, a product-coloured disc, a brand band."""
    backdrop, disc, band = b"\xfa\xf7\xf2", _rgb(colour), _rgb(accent)
    centre, radius = size / 2, size * 0.32
    rows = []
    for y in range(size):
        if y >= size * 0.86:
            row = band * size
        else:
            dy = y - centre * 0.9
            half = (radius * radius - dy * dy) ** 0.5 if abs(dy) < radius else 0.0
            left, right = int(centre - half), int(centre + half)
            row = backdrop * left + disc * (right - left) + backdrop * (size - right)
        rows.append(b"\x00" + row)
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(b"".join(rows), 6))
        + _png_chunk(b"IEND", b"")
    )
