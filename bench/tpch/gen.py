#!/usr/bin/env python3
"""TPC-H data, written here after the specification's dbgen (TPC-H 3.0,
clause 4.2): the same eight tables, keys, cardinalities and value
distributions, from a fixed seed, as tab-separated text for COPY.

Usage: gen.py SCALE OUTDIR   (SCALE 0.1 -> lineitem ~600k rows)

Adaptation (docs/benchmarks.md): dbgen's text grammar for comments is
replaced by random words from a fixed list that contains the words the
queries search for ("special", "requests", "Customer", "Complaints",
"Recommends"), with the specification's comment lengths; random numbers
come from Python's generator, not dbgen's streams, so rows differ from
dbgen's while every distribution (uniform ranges, lists, sparse order keys,
the partsupp supplier formula, dates, flags and statuses derived from the
dates) follows the specification.
"""

import datetime
import os
import random
import sys

NATIONS = [
    ("ALGERIA", 0), ("ARGENTINA", 1), ("BRAZIL", 1), ("CANADA", 1),
    ("EGYPT", 4), ("ETHIOPIA", 0), ("FRANCE", 3), ("GERMANY", 3),
    ("INDIA", 2), ("INDONESIA", 2), ("IRAN", 4), ("IRAQ", 4), ("JAPAN", 2),
    ("JORDAN", 4), ("KENYA", 0), ("MOROCCO", 0), ("MOZAMBIQUE", 0),
    ("PERU", 1), ("CHINA", 2), ("ROMANIA", 3), ("SAUDI ARABIA", 4),
    ("VIETNAM", 2), ("RUSSIA", 3), ("UNITED KINGDOM", 3),
    ("UNITED STATES", 1),
]
REGIONS = ["AFRICA", "AMERICA", "ASIA", "EUROPE", "MIDDLE EAST"]
COLORS = (
    "almond antique aquamarine azure beige bisque black blanched blue blush "
    "brown burlywood burnished chartreuse chiffon chocolate coral cornflower "
    "cornsilk cream cyan dark deep dim dodger drab firebrick floral forest "
    "frosted gainsboro ghost goldenrod green grey honeydew hot indian ivory "
    "khaki lace lavender lawn lemon light lime linen magenta maroon medium "
    "metallic midnight mint misty moccasin navajo navy olive orange orchid "
    "pale papaya peach peru pink plum powder puff purple red rose rosy royal "
    "saddle salmon sandy seashell sienna sky slate smoke snow spring steel "
    "tan thistle tomato turquoise violet wheat white yellow"
).split()
TYPE1 = ["STANDARD", "SMALL", "MEDIUM", "LARGE", "ECONOMY", "PROMO"]
TYPE2 = ["ANODIZED", "BURNISHED", "PLATED", "POLISHED", "BRUSHED"]
TYPE3 = ["TIN", "NICKEL", "BRASS", "STEEL", "COPPER"]
CONT1 = ["SM", "LG", "MED", "JUMBO", "WRAP"]
CONT2 = ["CASE", "BOX", "BAG", "JAR", "PKG", "PACK", "CAN", "DRUM"]
SEGMENTS = ["AUTOMOBILE", "BUILDING", "FURNITURE", "MACHINERY", "HOUSEHOLD"]
PRIORITIES = ["1-URGENT", "2-HIGH", "3-MEDIUM", "4-NOT SPECIFIED", "5-LOW"]
INSTRUCT = ["DELIVER IN PERSON", "COLLECT COD", "NONE", "TAKE BACK RETURN"]
MODES = ["REG AIR", "AIR", "RAIL", "SHIP", "TRUCK", "MAIL", "FOB"]
WORDS = (
    "furiously quickly carefully blithely slyly ironic final regular express "
    "pending bold even silent unusual special requests deposits accounts "
    "packages theodolites pinto beans foxes instructions dependencies "
    "excuses platelets asymptotes courts dolphins multipliers sauternes "
    "warthogs frets dinos attainments somas Tiresias patterns forges braids "
    "hockey players frays warhorses dugouts notornis epitaphs pearls tithes "
    "waters orbits gifts sheaves depths sentiments decoys realms pains "
    "grouches escapades haggle nag sleep wake are cajole detect integrate "
    "boost use affix engage among above across after against along around "
    "beside besides"
).split()
ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789,. "

START = datetime.date(1992, 1, 1)
END = datetime.date(1998, 12, 31)
CURRENT = datetime.date(1995, 6, 17)


def text(rng, lo, hi):
    n = rng.randint(lo, hi)
    out = []
    size = 0
    while size < n:
        w = rng.choice(WORDS)
        out.append(w)
        size += len(w) + 1
    return " ".join(out)[:n].rstrip()


def vstring(rng, lo, hi):
    return "".join(rng.choice(ALNUM) for _ in range(rng.randint(lo, hi))).strip() or "x"


def phone(rng, nation):
    return "%d-%03d-%03d-%04d" % (
        nation + 10, rng.randint(100, 999), rng.randint(100, 999), rng.randint(1000, 9999))


def money(cents):
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return "%s%d.%02d" % (sign, cents // 100, cents % 100)


def retail_price(partkey):
    return 90000 + ((partkey // 10) % 20001) + 100 * (partkey % 1000)


def main():
    scale = float(sys.argv[1])
    out = sys.argv[2]
    os.makedirs(out, exist_ok=True)
    rng = random.Random(19920101)
    n_supp = max(1, int(10000 * scale))
    n_part = max(1, int(200000 * scale))
    n_cust = max(1, int(150000 * scale))
    n_ord = max(1, int(1500000 * scale))
    n_clerk = max(1, int(1000 * scale))

    def w(name, rows):
        with open(os.path.join(out, name + ".tbl"), "w") as f:
            for r in rows:
                f.write("\t".join(str(x) for x in r))
                f.write("\n")

    w("region", ((i, n, text(rng, 31, 115)) for i, n in enumerate(REGIONS)))
    w("nation", ((i, n, r, text(rng, 31, 114)) for i, (n, r) in enumerate(NATIONS)))

    def suppliers():
        # clause 4.2.3: 5 per 10,000 suppliers complain, 5 recommend.
        special = set(rng.sample(range(1, n_supp + 1), min(n_supp, max(2, n_supp // 1000))))
        for k in range(1, n_supp + 1):
            nation = rng.randint(0, 24)
            comment = text(rng, 25, 100)
            if k in special:
                word = "Complaints" if k % 2 else "Recommends"
                comment = (comment[:20] + " Customer " + comment[20:40] + " " + word)[:100]
            yield (k, "Supplier#%09d" % k, vstring(rng, 10, 40), nation, phone(rng, nation),
                   money(rng.randint(-99999, 999999)), comment)

    w("supplier", suppliers())

    def parts():
        for k in range(1, n_part + 1):
            m = rng.randint(1, 5)
            yield (k, " ".join(rng.sample(COLORS, 5)), "Manufacturer#%d" % m,
                   "Brand#%d%d" % (m, rng.randint(1, 5)),
                   "%s %s %s" % (rng.choice(TYPE1), rng.choice(TYPE2), rng.choice(TYPE3)),
                   rng.randint(1, 50), "%s %s" % (rng.choice(CONT1), rng.choice(CONT2)),
                   money(retail_price(k)), text(rng, 5, 22))

    w("part", parts())

    def supp_of(partkey, i):
        return (partkey + i * (n_supp // 4 + (partkey - 1) // n_supp)) % n_supp + 1

    def partsupps():
        for k in range(1, n_part + 1):
            for i in range(4):
                yield (k, supp_of(k, i), rng.randint(1, 9999),
                       money(rng.randint(100, 100000)), text(rng, 49, 198))

    w("partsupp", partsupps())

    def customers():
        for k in range(1, n_cust + 1):
            nation = rng.randint(0, 24)
            yield (k, "Customer#%09d" % k, vstring(rng, 10, 40), nation, phone(rng, nation),
                   money(rng.randint(-99999, 999999)), rng.choice(SEGMENTS), text(rng, 29, 116))

    w("customer", customers())

    last_order = (END - START).days - 151
    with open(os.path.join(out, "orders.tbl"), "w") as fo, \
            open(os.path.join(out, "lineitem.tbl"), "w") as fl:
        for i in range(n_ord):
            # Sparse keys: 8 of every 32 (clause 4.2.3).
            okey = (i // 8) * 32 + i % 8 + 1
            cust = rng.randint(1, n_cust)
            while cust % 3 == 0:  # a third of the customers have no orders
                cust = rng.randint(1, n_cust)
            odate = START + datetime.timedelta(days=rng.randint(0, last_order))
            total = 0
            statuses = set()
            for line in range(1, rng.randint(1, 7) + 1):
                pkey = rng.randint(1, n_part)
                skey = supp_of(pkey, rng.randint(0, 3))
                qty = rng.randint(1, 50)
                ext = qty * retail_price(pkey)
                disc = rng.randint(0, 10)
                tax = rng.randint(0, 8)
                ship = odate + datetime.timedelta(days=rng.randint(1, 121))
                commit = odate + datetime.timedelta(days=rng.randint(30, 90))
                receipt = ship + datetime.timedelta(days=rng.randint(1, 30))
                rflag = rng.choice("RA") if receipt <= CURRENT else "N"
                lstatus = "O" if ship > CURRENT else "F"
                statuses.add(lstatus)
                total += ext * (100 + tax) * (100 - disc) // 10000
                fl.write("%d\t%d\t%d\t%d\t%d\t%s\t0.%02d\t0.%02d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n" % (
                    okey, pkey, skey, line, qty, money(ext), disc, tax, rflag, lstatus,
                    ship, commit, receipt, rng.choice(INSTRUCT), rng.choice(MODES),
                    text(rng, 10, 43)))
            status = "F" if statuses == {"F"} else "O" if statuses == {"O"} else "P"
            comment = text(rng, 19, 78)
            fo.write("%d\t%d\t%s\t%s\t%s\t%s\tClerk#%09d\t0\t%s\n" % (
                okey, cust, status, money(total), odate, rng.choice(PRIORITIES),
                rng.randint(1, n_clerk), comment))


if __name__ == "__main__":
    main()
