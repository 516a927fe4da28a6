"""Paper side of the archive: 归档文件目录, 备考表, 盒脊, box places and the lending register."""
