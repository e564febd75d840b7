"""
C{occid-accounting}: APEL usage records for every VM, volume and public IP
occid's accounts hold, written to the dirq spools C{ssmsend} ships to EGI.

Pure modules: L{occid.accounting.usage} (the usage arithmetic and its tag)
and L{occid.accounting.records} (records and messages).  Edges:
L{occid.accounting.observe} (EC2 and CloudWatch), L{occid.accounting.spool}
(dirq) and L{occid.accounting.cache} (the local file).  L{occid.accounting.run}
is one run; L{occid.accounting.command} the console script.
"""
